# thesis-backends-first.jq - first-chunk latency (one 1 MiB read) per remote backend and profile (harness/bench/backends.sh) (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; backends_first("native")
