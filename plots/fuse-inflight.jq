# fuse-inflight.jq - managed sequential read MB/s (median) vs background pull
# requests in flight (-o inflight), one column per RTT.
include "pivot";
include "fuse-series";
[ measured("access") | select(.approach == "fuse" and .workload == "seq-read" and .options.inflight != null
  and (.options.mount // "managed") == "managed" and (.profile | test("rtt-[0-9]+ms"))) ]
| group_by([rtt, (.options.inflight | tonumber)])
| map(["RTT \(.[0] | rtt) ms", (.[0].options.inflight | tonumber), (map(.throughput_mb_s) | median)])
| pivot
