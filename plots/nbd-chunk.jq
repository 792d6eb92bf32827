# nbd-chunk.jq - chunking on the local side (managed chunk) vs the remote side
# (server_chunk, local chunk 1m), MB/s at 0 ms (harness/bench/nbd.sh).
include "pivot"; include "nbd-lib";
[ nbd_bench | select(.approach == "nbd" and .options.chunk != null) ]
| group_by([.lab, .workload, (.options.server_chunk != null), (.options.server_chunk // .options.chunk)])
| map([ "\(.[0].workload) \(if .[0].options.server_chunk then "remote" else "local" end) [\(.[0].lab)]",
         (.[0].options.server_chunk // .[0].options.chunk), mean(.throughput_mb_s) ])
| pivot
