# nbd-first.jq - first-access latency (ms) vs RTT: nbd direct and managed next
# to the approaches of the same bench run, one lab (records of
# harness/bench/nbd.sh; median, min-max, n: stats.jq).
include "stats"; include "nbd-lib";
[ nbd_bench | select(.workload == "first-access" and nbd_rtt != null) ] | one_lab
| map([nbd_series, nbd_rtt, .first_access_ns / 1e6]) | stats_table
