# backends-first.jq - first-chunk latency (ms) per backend behind the server,
# one bar per backend, one group per profile (harness/bench/backends.sh: a
# record holds its runs in runs_ms; one without them counts as one run;
# median, min-max, n: stats.jq).
include "stats";
[ .[] | select(.bench == "backends" and .metric == "first_chunk")
  | .backend as $b | .profile as $p | (.runs_ms // [.first_chunk_ms])[] | [$b, $p, .] ]
| stats_table
