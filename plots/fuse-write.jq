# fuse-write.jq - sequential write MB/s including the final sync vs RTT, one
# series per side, and the thesis's managed-write figure 230 MB/s (stats.jq).
include "stats";
include "fuse-series";
[ .[] | passed | select(.mode == "access" and .workload == "seq-write" and only(["mount"])
        and (.profile | test("rtt-[0-9]+ms")))
  | rtt as $rtt | [series, $rtt, .throughput_with_sync_mb_s], ["target 230 MB/s", $rtt, 230] ]
| stats_table
