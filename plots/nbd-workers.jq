# nbd-workers.jq - managed mount at 20 ms RTT vs background pull requests in
# flight: seq-read MB/s and first access (ms), one lab (harness/bench/nbd.sh;
# median, min-max, n: stats.jq).
include "stats"; include "nbd-lib";
[ nbd_bench | select(.approach == "nbd" and .options.pull_inflight != null) ] | one_lab
| map(if .workload == "first-access" then ["first access ms [\(.lab)]", (.options.pull_inflight | tonumber), .first_access_ns / 1e6]
      else ["seq-read MB/s [\(.lab)]", (.options.pull_inflight | tonumber), .throughput_mb_s] end)
| stats_table
