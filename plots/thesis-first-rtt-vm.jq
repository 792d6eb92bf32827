# thesis-first-rtt-vm.jq - thesis-first-rtt's data from the VM lab's records (vm-tcg).
include "thesis-lib"; first_rtt("vm-tcg")
