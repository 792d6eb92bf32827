# thesis-read-rtt.jq - sequential read throughput vs RTT per approach (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; read_rtt("native")
