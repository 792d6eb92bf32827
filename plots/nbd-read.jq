# nbd-read.jq - sequential read MB/s vs RTT: nbd direct and managed next to the
# approaches of the same bench run, one lab (harness/bench/nbd.sh; median,
# min-max, n: stats.jq).
include "stats"; include "nbd-lib";
[ nbd_bench | select(.workload == "seq-read" and .options.pull_inflight == null and .options.chunk == null
                     and nbd_rtt != null) ] | one_lab
| map([nbd_series, nbd_rtt, .throughput_mb_s]) | stats_table
