# backends-first.jq - first-chunk latency (ms, median of the runs) per backend
# behind the server, one bar per backend, one group per profile
# (harness/bench/backends.sh; several result files: their mean).
include "pivot";
[ .[] | select(.bench == "backends" and .metric == "first_chunk") ]
| group_by([.backend, .profile])
| map([ .[0].backend, .[0].profile, (map(.first_chunk_ms) | add / length) ])
| pivot
