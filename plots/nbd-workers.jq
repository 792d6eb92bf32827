# nbd-workers.jq - managed mount at 20 ms RTT vs background pull requests in
# flight: seq-read MB/s and first access (ms) (harness/bench/nbd.sh).
include "pivot"; include "nbd-lib";
[ nbd_bench | select(.approach == "nbd" and .options.pull_inflight != null) ]
| group_by([.lab, .workload, .options.pull_inflight])
| map([ (if .[0].workload == "first-access" then "first access ms" else "seq-read MB/s" end) + " [\(.[0].lab)]",
         (.[0].options.pull_inflight | tonumber),
         (if .[0].workload == "first-access" then mean(.first_access_ns) / 1e6 else mean(.throughput_mb_s) end) ])
| npivot
