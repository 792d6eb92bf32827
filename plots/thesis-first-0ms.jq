# thesis-first-0ms.jq - first-chunk latency at 0 ms per approach, at loopback (--netem none) next to the emulated link (rtt-0ms) (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; first_0ms("native")
