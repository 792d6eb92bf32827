# thesis-read-workers-vm.gp - sequential read throughput vs background pull workers, per approach and RTT: the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-read-workers.gp'
