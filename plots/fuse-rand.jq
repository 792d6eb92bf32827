# fuse-rand.jq - random read MB/s (median) vs RTT, one column per side
# (fuse direct, fuse managed, uffd, memory, disk).
include "pivot";
include "fuse-series";
[ measured("access") | select(only(["mount"]) and .workload == "rand-read" and (.profile | test("rtt-[0-9]+ms"))) ]
| group_by([series, rtt])
| map([(.[0] | series), (.[0] | rtt), (map(.throughput_mb_s) | median)])
| pivot
