# first-access.jq - first-access latency (us) of passed access scenarios,
# one series per approach, one case per workload/profile (stats.jq).
include "stats";
[ .[] | passed | select(.mode == "access")
  | [ .approach, (.workload + "/" + .profile), (.first_access_ns / 1000) ] ]
| stats_table
