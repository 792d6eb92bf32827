# backends-throughput.jq - random 1 MiB read throughput (MB/s = 10^6 B/s) vs
# pull workers (requests in flight), one series per backend and profile
# (harness/bench/backends.sh: a record holds its runs in runs_mbps; one
# without them counts as one run; median, min-max, n: stats.jq).
# Every backend gets a series for every profile (NaN, n 0 where not measured)
# so that the figure can pair them: colour = backend, dash = profile.
include "stats";
[ .[] | select(.bench == "backends" and .metric == "throughput") ] as $rows
| ($rows | map(.workers) | min) as $first
| [ ($rows | map(.backend) | unique)[] as $b | ($rows | map(.profile) | unique)[] as $p | ["\($b) \($p)", $first, null] ]
  + [ $rows[] | "\(.backend) \(.profile)" as $s | .workers as $w | (.runs_mbps // [.mbps])[] | [$s, $w, .] ]
| stats_table
