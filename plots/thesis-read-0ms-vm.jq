# thesis-read-0ms-vm.jq - thesis-read-0ms's data from the VM lab's records (vm-tcg).
include "thesis-lib"; read_0ms("vm-tcg")
