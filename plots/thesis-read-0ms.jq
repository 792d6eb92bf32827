# thesis-read-0ms.jq - sequential read throughput at 0 ms per approach, loopback (--netem none) next to the emulated link (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; read_0ms("native")
