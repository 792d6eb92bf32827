# nbd-write.jq - sequential write MB/s including the sync vs RTT, direct and
# managed, one lab (harness/bench/nbd.sh; median, min-max, n: stats.jq).
include "stats"; include "nbd-lib";
[ nbd_bench | select(.approach == "nbd" and .workload == "seq-write" and nbd_rtt != null) ] | one_lab
| map([nbd_series, nbd_rtt, .throughput_with_sync_mb_s]) | stats_table
