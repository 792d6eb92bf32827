# thesis-migration-rate.jq - migration downtime vs the writer's rate at 20 ms RTT, per approach (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; migration_rate("native")
