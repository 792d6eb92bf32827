# backends-throughput.jq - random 1 MiB read throughput (MB/s = 10^6 B/s,
# median of the runs) vs pull workers (requests in flight), one column per
# backend and profile (harness/bench/backends.sh; several files: their mean).
# Workers are zero-padded so that they sort as numbers; gnuplot reads "004" as 4.
include "pivot";
[ .[] | select(.bench == "backends" and .metric == "throughput") ]
| group_by([.backend, .profile, .workers])
| map([ "\(.[0].backend) \(.[0].profile)", ("000\(.[0].workers)" | .[-3:]), (map(.mbps) | add / length) ])
| pivot
