# fuse-migrate.jq - migration downtime (ms) vs RTT with the 200 Mbit/s writer:
# fuse two-phase, uffd post-copy, delta pre-copy (stats.jq).
include "stats";
include "fuse-series";
[ .[] | passed | select(.mode == "migrate" and .workload == "migrate-writer" and only(["mount"])
        and (.profile | test("rtt-[0-9]+ms")))
  | [series, rtt, (.migration.downtime_s * 1000)] ]
| stats_table
