# thesis-chunking-vm.jq - thesis-chunking's data from the VM lab's records (vm-tcg).
include "thesis-lib"; chunking("vm-tcg")
