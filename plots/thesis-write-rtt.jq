# thesis-write-rtt.jq - sequential write throughput including the final sync to the remote vs RTT (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; write_rtt("native")
