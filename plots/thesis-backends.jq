# thesis-backends.jq - random 1 MiB read throughput vs pull workers per remote backend and profile (harness/bench/backends.sh) (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; backends("native")
