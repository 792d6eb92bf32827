# thesis-write-rtt-vm.jq - thesis-write-rtt's data from the VM lab's records (vm-tcg).
include "thesis-lib"; write_rtt("vm-tcg")
