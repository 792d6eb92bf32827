# fuse-migrate-rate.jq - migration downtime (median, ms) vs the writer's rate
# (Mbit/s) on the wan profile: fuse two-phase, uffd post-copy, delta pre-copy.
include "pivot";
include "fuse-series";
[ measured("migrate") | select(only(["mount"]) and .profile == "wan" and (.workload | test("^migrate-writer"))) ]
| map(. + {mbit: (.workload | capture("-(?<n>[0-9]+)mbit$") // {n: "200"} | .n | tonumber)})
| group_by([series, .mbit])
| map([(.[0] | series), .[0].mbit, (map(.migration.downtime_s * 1000) | median)])
| pivot
