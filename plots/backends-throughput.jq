# backends-throughput.jq - random 1 MiB read throughput (MB/s = 10^6 B/s,
# median of the runs) vs pull workers (requests in flight), one column per
# backend and profile (harness/bench/backends.sh; several files: their mean).
# Every backend gets a column for every profile (NaN where not measured) so
# that the figure can pair them: colour = backend, dash = profile.
# Workers are zero-padded so that they sort as numbers; gnuplot reads "004" as 4.
include "pivot";
[ .[] | select(.bench == "backends" and .metric == "throughput") ]
| (map(.backend) | unique) as $backends
| (map(.profile) | unique) as $profiles
| (map("000\(.workers)" | .[-3:]) | min) as $first
| [ $backends[] as $b | $profiles[] as $p | [ "\($b) \($p)", $first, "NaN" ] ]
  + (group_by([.backend, .profile, .workers])
     | map([ "\(.[0].backend) \(.[0].profile)", ("000\(.[0].workers)" | .[-3:]), (map(.mbps) | add / length) ]))
| pivot
