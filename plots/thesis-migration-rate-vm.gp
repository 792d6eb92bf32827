# thesis-migration-rate-vm.gp - migration downtime vs the writer's rate at 20 ms RTT, per approach: the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-migration-rate.gp'
