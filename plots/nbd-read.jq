# nbd-read.jq - sequential read MB/s vs RTT: nbd direct and managed next to the
# approaches of the same bench run and lab (harness/bench/nbd.sh).
include "pivot"; include "nbd-lib";
[ nbd_bench | select(.workload == "seq-read" and .options.pull_inflight == null and .options.chunk == null)
  | . + {rtt: nbd_rtt} | select(.rtt != null) ]
| group_by([nbd_series, .rtt]) | map([(.[0] | nbd_series), .[0].rtt, mean(.throughput_mb_s)]) | npivot
