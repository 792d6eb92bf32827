# fuse-migrate-rate.jq - migration downtime (ms) vs the writer's rate (Mbit/s)
# on the wan profile: fuse two-phase, uffd post-copy, delta pre-copy (stats.jq).
include "stats";
include "fuse-series";
[ .[] | passed | select(.mode == "migrate" and .profile == "wan" and (.workload | test("^migrate-writer"))
        and only(["mount"]))
  | [series, (.workload | capture("-(?<n>[0-9]+)mbit$") // {n: "200"} | .n | tonumber), (.migration.downtime_s * 1000)] ]
| stats_table
