# thesis-migration-rate-vm.jq - thesis-migration-rate's data from the VM lab's records (vm-tcg).
include "thesis-lib"; migration_rate("vm-tcg")
