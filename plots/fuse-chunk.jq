# fuse-chunk.jq - demand reads (prefetch=off) MB/s (median) vs chunk size
# (KiB): chunking on the local side (-o chunk) vs on the remote side
# (-o server_chunk, the engine fetching 1 MiB), per workload.
include "pivot";
include "fuse-series";
[ measured("access") | select(.approach == "fuse" and .options.prefetch == "off" and .options.chunk != null) ]
| map(. + {side: (if .options.server_chunk != null then "remote" else "local" end)})
| map(. + {kib: (if .side == "remote" then .options.server_chunk else .options.chunk end | kib)})
| group_by([.side, .workload, .kib])
| map(["\(.[0].side) chunking \(.[0].workload)", .[0].kib, (map(.throughput_mb_s) | median)])
| pivot
