# uffd-threads.jq - uffd throughput (MB/s) vs handler threads, one series
# per workload/profile (+ prefetch mode; stats.jq).
include "stats";
[ .[] | passed | select(.approach == "uffd" and .mode == "access" and .options.threads != null)
  | [ "\(.workload)/\(.profile) prefetch=\(.options.prefetch // "both")", (.options.threads | tonumber), .throughput_mb_s ] ]
| stats_table
