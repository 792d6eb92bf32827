# thesis-efficiency-vm.jq - thesis-efficiency's data from the VM lab's records (vm-tcg).
include "thesis-lib"; efficiency("vm-tcg")
