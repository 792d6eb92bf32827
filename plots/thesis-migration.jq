# thesis-migration.jq - migration downtime vs RTT with the 200 Mbit/s writer: uffd post-copy, delta pre-copy, fuse and nbd two-phase (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; migration("native")
