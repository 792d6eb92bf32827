# thesis-read-workers-vm.jq - thesis-read-workers's data from the VM lab's records (vm-tcg).
include "thesis-lib"; read_workers("vm-tcg")
