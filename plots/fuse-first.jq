# fuse-first.jq - first-access latency (median, ms) vs RTT, one column per
# side (fuse direct and managed with the default 1 MiB requests and with
# 4 KiB requests, uffd, memory, disk) and the target RTT + 0.15 ms.
include "pivot";
include "fuse-series";
[ measured("access") | select(only(["mount", "max_io", "ra", "chunk"]) and .workload == "first-access" and (.profile | test("rtt-[0-9]+ms"))) ]
| (group_by([series, rtt]) | map([(.[0] | series), (.[0] | rtt), (map(.first_access_ns / 1e6) | median)])) as $rows
| $rows + ($rows | map(.[1]) | unique | map(["target RTT+0.15ms", ., . + 0.15]))
| pivot
