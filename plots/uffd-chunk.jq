# uffd-chunk.jq - uffd read throughput (MB/s) vs fault-around chunk size in
# KiB (prefetch off, local link), one series per workload (stats.jq).
include "stats";
[ .[] | passed | select(.approach == "uffd" and .mode == "access"
        and .profile == "local" and .options.prefetch == "off" and (.options.chunk != null)
        and .options.threads == null and .options.handler == null and (.workload == "seq-read-4k" or .workload == "rand-read"))
  | [ .workload,
      (.options.chunk | kib),
      .throughput_mb_s ] ]
| stats_table
