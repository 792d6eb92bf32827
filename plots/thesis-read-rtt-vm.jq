# thesis-read-rtt-vm.jq - thesis-read-rtt's data from the VM lab's records (vm-tcg).
include "thesis-lib"; read_rtt("vm-tcg")
