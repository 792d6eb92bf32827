# delta-rsync.jq - time to bring a remote copy up to date after a change set,
# delta (steady-state cycle, one-shot push) vs rsync, per profile and
# fraction of 4 KiB blocks changed (harness/bench/delta.sh, delta-rsync rows).
include "pivot";
[ .[] | select(.type == "delta-rsync" and .method != null) ]
| group_by([.method, .profile, .fraction])
| map([ .[0].method, "\(.[0].profile) \(.[0].fraction * 100)% of \(.[0].size / 1048576) MiB",
        ((map(.seconds) | add) / length) ])
| pivot
