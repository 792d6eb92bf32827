# thesis-first-0ms-vm.gp - first-chunk latency at 0 ms per approach, at loopback (--netem none) next to the emulated link (rtt-0ms): the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-first-0ms.gp'
