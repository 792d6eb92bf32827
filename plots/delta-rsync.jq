# delta-rsync.jq - seconds to bring a remote copy up to date after a change
# set, delta (steady-state cycle, one-shot push) vs rsync, per profile and
# fraction of 4 KiB blocks changed (harness/bench/delta.sh rows; stats.jq).
include "stats";
[ .[] | measured | select(.type == "delta-rsync" and .method != null)
  | [ .method, "\(.profile) \(.fraction * 100)% of \(.size / 1048576) MiB", .seconds ] ]
| stats_table
