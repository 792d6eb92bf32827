# thesis-chunking.jq - read throughput vs chunk size, chunking on the local side (engine chunk) vs the remote side (server_chunk) (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; chunking("native")
