# thesis-read-0ms-vm.gp - sequential read throughput at 0 ms per approach, loopback (--netem none) next to the emulated link: the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-read-0ms.gp'
