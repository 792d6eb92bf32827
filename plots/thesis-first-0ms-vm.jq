# thesis-first-0ms-vm.jq - thesis-first-0ms's data from the VM lab's records (vm-tcg).
include "thesis-lib"; first_0ms("vm-tcg")
