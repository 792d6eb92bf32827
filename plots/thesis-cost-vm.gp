# thesis-cost-vm.gp - CPU seconds per GiB moved per approach (all processes: workload, local, remote): the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-cost.gp'
