# thesis-efficiency.jq - measured time over the link limit (RTT + size/rate) per approach and rate-limited profile; 1 = at the limit (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; efficiency("native")
