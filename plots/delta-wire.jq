# delta-wire.jq - MB on the emulated link (both directions) per method,
# profile and fraction changed (harness/bench/delta.sh rows; stats.jq).
include "stats";
[ .[] | measured | select(.type == "delta-rsync" and .method != null)
  | [ .method, "\(.profile) \(.fraction * 100)% of \(.size / 1048576) MiB", (.wire_bytes / 1e6) ] ]
| stats_table
