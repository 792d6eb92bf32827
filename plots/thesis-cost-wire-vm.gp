# thesis-cost-wire-vm.gp - bytes on the emulated wire (both ways) per GiB of region per approach: the VM lab (vm-tcg; compare only with other vm-tcg figures).
lab = "vm-tcg"
load 'plots/thesis-cost-wire.gp'
