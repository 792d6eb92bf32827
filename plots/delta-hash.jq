# delta-hash.jq - hash throughput (GB/s = 10^9 B/s) of the delta approach's
# chunk hashes, one column per algorithm, one row per chunk size x threads
# (memsync-delta hashbench, harness/bench/delta.sh).
include "pivot";
[ .[] | select(.type == "delta-hash") ]
| group_by([.hash, .chunk, .threads])
| map([ .[0].hash,
        ("\(.[0].chunk / 1024 | tostring | ("0000" + .)[-4:]) KiB x\(.[0].threads)"),
        (map(.gb_s) | max) ])
| pivot
