# nbd-chunk.jq - chunking on the local side (managed chunk) vs the remote side
# (server_chunk, local chunk 1m), MB/s at 0 ms vs chunk size in KiB, one lab (harness/bench/nbd.sh;
# median, min-max, n: stats.jq).
include "stats"; include "nbd-lib";
[ nbd_bench | select(.approach == "nbd" and .options.chunk != null) ] | one_lab
| map([ "\(.workload) \(if .options.server_chunk then "remote" else "local" end) [\(.lab)]",
        (.options.server_chunk // .options.chunk | kib), .throughput_mb_s ])
| stats_table
