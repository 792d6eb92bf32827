# thesis-write-rtt-vm.gp - sequential write throughput including the final sync to the remote vs RTT: the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-write-rtt.gp'
