# thesis-cost-wire-vm.jq - thesis-cost-wire's data from the VM lab's records (vm-tcg).
include "thesis-lib"; cost_wire("vm-tcg")
