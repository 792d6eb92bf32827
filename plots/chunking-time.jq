# chunking-time.jq - seconds to sync a file pair (the sender's wall time,
# process start to exit) per workload, profile and strategy
# (harness/bench/chunking.sh, "chunking" rows; mean of the runs).
["fixed-4k", "fixed-64k", "fixed-1m", "cdc-4k", "cdc-16k", "cdc-64k", "rsync"] as $order
| { "local": 0, "lan": 1, "metro": 2, "wan": 3 } as $prank
| [ .[] | select(.type == "chunking") ] as $rows
| ($rows | map(.strategy) | unique) as $have
| [ $order[] | select(. as $s | $have | index($s)) ] as $series
| ($rows | group_by([.workload, ($prank[.profile] // 9), .profile])) as $groups
| (["case"] + $series | @tsv),
  ($groups[] as $g
   | [ "\($g[0].workload) \($g[0].profile)" ]
     + [ $series[] as $s | ($g | map(select(.strategy == $s) | .seconds)
                             | if length > 0 then add / length else "NaN" end) ]
   | @tsv)
