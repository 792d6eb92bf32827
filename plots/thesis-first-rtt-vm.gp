# thesis-first-rtt-vm.gp - first-chunk latency vs RTT per approach: the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-first-rtt.gp'
