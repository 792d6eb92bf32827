# nbd-write.jq - sequential write MB/s including the sync vs RTT, direct and managed (harness/bench/nbd.sh).
include "pivot"; include "nbd-lib";
[ nbd_bench | select(.approach == "nbd" and .workload == "seq-write") | . + {rtt: nbd_rtt} | select(.rtt != null) ]
| group_by([nbd_series, .rtt]) | map([(.[0] | nbd_series), .[0].rtt, mean(.throughput_with_sync_mb_s)]) | npivot
