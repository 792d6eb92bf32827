# fuse-prefetch.jq - read MB/s per workload and profile, one series per mount
# and prefetch mode (off, readahead, notify_store; stats.jq).
include "stats";
include "fuse-series";
[ .[] | passed | select(.approach == "fuse" and .mode == "access" and .options.prefetch != null
        and only(["mount", "prefetch"]))
  | ["\(series) \(.options.prefetch)", "\(.workload)/\(.profile)", .throughput_mb_s] ]
| stats_table
