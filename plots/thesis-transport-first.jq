# thesis-transport-first.jq - first-chunk latency (one 4 KiB read) per NBD transport and profile (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; transport_first("native")
