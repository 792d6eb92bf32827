# thesis-first-workers.jq - first-chunk latency vs background pull workers, per approach and RTT (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; first_workers("native")
