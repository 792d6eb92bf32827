# thesis-first-workers-vm.jq - thesis-first-workers's data from the VM lab's records (vm-tcg).
include "thesis-lib"; first_workers("vm-tcg")
