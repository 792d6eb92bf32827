# delta-wire.jq - bytes on the emulated link (both directions) per method,
# profile and fraction changed (harness/bench/delta.sh, delta-rsync rows).
include "pivot";
[ .[] | select(.type == "delta-rsync" and .method != null) ]
| group_by([.method, .profile, .fraction])
| map([ .[0].method, "\(.[0].profile) \(.[0].fraction * 100)% of \(.[0].size / 1048576) MiB",
        ((map(.wire_bytes) | add) / length / 1e6) ])
| pivot
