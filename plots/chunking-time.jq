# chunking-time.jq - seconds to sync a file pair (the sender's wall time,
# process start to exit) per workload, profile and strategy
# (harness/bench/chunking.sh, "chunking" rows; median, min-max, n: stats.jq).
include "stats"; include "chunking-lib";
{ "local": 0, "lan": 1, "metro": 2, "wan": 3 } as $prank
| [ chunking_rows | [ .strategy, [.workload, ($prank[.profile] // 9), .profile, "\(.workload) \(.profile)"], .seconds ] ]
| [ stats_table ] | strategy_order
