# fuse-chunk.jq - demand reads (prefetch=off) MB/s vs chunk size (KiB):
# chunking on the local side (-o chunk) vs on the remote side
# (-o server_chunk, the engine fetching 1 MiB), per workload (stats.jq).
include "stats";
include "fuse-series";
[ .[] | passed | select(.approach == "fuse" and .mode == "access" and .options.prefetch == "off"
        and .options.chunk != null and only(["chunk", "server_chunk", "prefetch"]))
  | (if .options.server_chunk != null then "remote" else "local" end) as $side
  | ["\($side) chunking \(.workload)", (if $side == "remote" then .options.server_chunk else .options.chunk end | kib),
     .throughput_mb_s] ]
| stats_table
