# thesis-first-rtt.jq - first-chunk latency vs RTT per approach (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; first_rtt("native")
