# thesis-read-rtt-vm.gp - sequential read throughput vs RTT per approach: the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-read-rtt.gp'
