# fuse-write.jq - sequential write MB/s including the final sync (median) vs
# RTT, one column per side, and the thesis's managed-write figure (230 MB/s).
include "pivot";
include "fuse-series";
[ measured("access") | select(only(["mount"]) and .workload == "seq-write" and (.profile | test("rtt-[0-9]+ms"))) ]
| (group_by([series, rtt]) | map([(.[0] | series), (.[0] | rtt), (map(.throughput_with_sync_mb_s) | median)])) as $rows
| $rows + ($rows | map(.[1]) | unique | map(["target 230 MB/s", ., 230]))
| pivot
