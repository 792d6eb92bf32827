# thesis-first-workers-vm.gp - first-chunk latency vs background pull workers, per approach and RTT: the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-first-workers.gp'
