# thesis-cost.jq - CPU seconds per GiB moved per approach (all processes: workload, local, remote) (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; cost("native")
