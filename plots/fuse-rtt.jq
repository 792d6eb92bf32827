# fuse-rtt.jq - sequential read MB/s vs RTT, one series per side (fuse
# direct, fuse managed, uffd, memory, disk; stats.jq).
include "stats";
include "fuse-series";
[ .[] | passed | select(.mode == "access" and .workload == "seq-read" and only(["mount"]) and (.profile | test("rtt-[0-9]+ms")))
  | [series, rtt, .throughput_mb_s] ]
| stats_table
