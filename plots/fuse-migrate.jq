# fuse-migrate.jq - migration downtime (median, ms) vs RTT with the 200 Mbit/s
# writer: fuse two-phase, uffd post-copy, delta pre-copy.
include "pivot";
include "fuse-series";
[ measured("migrate") | select(only(["mount"]) and .workload == "migrate-writer" and (.profile | test("rtt-[0-9]+ms"))) ]
| group_by([series, rtt])
| map([(.[0] | series), (.[0] | rtt), (map(.migration.downtime_s * 1000) | median)])
| pivot
