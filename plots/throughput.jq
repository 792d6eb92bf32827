# throughput.jq - throughput (MB/s) of passed access scenarios, one series
# per approach, one case per workload/profile (median, min-max, n: stats.jq);
# first-access runs (one 4 KiB access) have no meaningful throughput.
include "stats";
[ .[] | passed | select(.mode == "access" and .workload != "first-access")
  | [ .approach, (.workload + "/" + .profile), .throughput_mb_s ] ]
| stats_table
