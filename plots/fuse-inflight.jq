# fuse-inflight.jq - managed sequential read MB/s vs background pull requests
# in flight (-o inflight), one series per RTT (stats.jq).
include "stats";
include "fuse-series";
[ .[] | passed | select(.approach == "fuse" and .mode == "access" and .workload == "seq-read"
        and .options.inflight != null and only(["mount", "inflight"]) and (.options.mount // "managed") == "managed"
        and (.profile | test("rtt-[0-9]+ms")))
  | ["RTT \(rtt) ms", (.options.inflight | tonumber), .throughput_mb_s] ]
| stats_table
