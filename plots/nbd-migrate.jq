# nbd-migrate.jq - two-phase migration downtime (ms) vs RTT and writer rate,
# one lab (harness/bench/nbd.sh; median, min-max, n: stats.jq).
include "stats"; include "nbd-lib";
[ nbd_bench | select(.approach == "nbd" and .mode == "migrate" and nbd_rtt != null) ] | one_lab
| map([ "writer \(.workload | ltrimstr("migrate-writer-")) [\(.lab)]", nbd_rtt, .migration.downtime_s * 1000 ])
| stats_table
