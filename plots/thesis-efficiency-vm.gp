# thesis-efficiency-vm.gp - measured time over the link limit (RTT + size/rate) per approach and rate-limited profile; 1 = at the limit: the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-efficiency.gp'
