# delta-hash.jq - hash throughput (GB/s = 10^9 B/s) of the delta approach's
# chunk hashes, one series per algorithm, one case per chunk size x threads
# (memsync-delta hashbench rows, harness/bench/delta.sh; stats.jq).
include "stats";
[ .[] | measured | select(.type == "delta-hash")
  | [ .hash, [.chunk, .threads, "\(.chunk / 1024) KiB x\(.threads)"], .gb_s ] ]
| stats_table
