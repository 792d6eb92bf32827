# chunking-wire.jq - bytes on the emulated link (both directions, MB) to
# bring a receiver's old copy up to the new file, per workload and strategy
# (fixed chunks, content-defined chunks, rsync); the transfers at every
# profile are the runs (harness/bench/chunking.sh, "chunking" rows; median,
# min-max, n: stats.jq). Strategies in a fixed order.
include "stats"; include "chunking-lib";
[ chunking_rows | [ .strategy, "\(.workload) (\(.new_size / 1048576 | round) MiB)", .wire_bytes / 1e6 ] ]
| [ stats_table ] | strategy_order
