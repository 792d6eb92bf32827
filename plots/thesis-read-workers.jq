# thesis-read-workers.jq - sequential read throughput vs background pull workers, per approach and RTT (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; read_workers("native")
