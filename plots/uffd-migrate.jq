# uffd-migrate.jq - uffd post-copy migration vs RTT (rtt-* profiles): series
# "downtime (ms)" and "total (s)" (switch to destination fully verified; stats.jq).
include "stats";
[ .[] | passed | select(.approach == "uffd" and .mode == "migrate" and (.profile | test("^rtt-[0-9]+ms$")))
  | (.profile | capture("rtt-(?<n>[0-9]+)ms").n | tonumber) as $rtt
  | [ "downtime (ms)", $rtt, (.migration.downtime_s * 1000) ], [ "total (s)", $rtt, .sync_s ] ]
| stats_table
