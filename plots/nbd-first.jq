# nbd-first.jq - first-access latency (ms) vs RTT: nbd direct and managed next
# to the approaches of the same bench run and lab (records of harness/bench/nbd.sh).
include "pivot"; include "nbd-lib";
[ nbd_bench | select(.workload == "first-access") | . + {rtt: nbd_rtt} | select(.rtt != null) ]
| group_by([nbd_series, .rtt]) | map([(.[0] | nbd_series), .[0].rtt, mean(.first_access_ns) / 1e6]) | npivot
