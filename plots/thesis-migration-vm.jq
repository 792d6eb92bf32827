# thesis-migration-vm.jq - thesis-migration's data from the VM lab's records (vm-tcg).
include "thesis-lib"; migration("vm-tcg")
