# thesis-cost-vm.jq - thesis-cost's data from the VM lab's records (vm-tcg).
include "thesis-lib"; cost("vm-tcg")
