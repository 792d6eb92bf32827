# nbd-migrate.jq - two-phase migration downtime (ms) vs RTT and writer rate (harness/bench/nbd.sh).
include "pivot"; include "nbd-lib";
[ nbd_bench | select(.approach == "nbd" and .mode == "migrate") | . + {rtt: nbd_rtt} | select(.rtt != null) ]
| group_by([.lab, .workload, .rtt])
| map([ "writer \(.[0].workload | ltrimstr("migrate-writer-")) [\(.[0].lab)]", .[0].rtt,
         mean(.migration.downtime_s) * 1000 ])
| npivot
