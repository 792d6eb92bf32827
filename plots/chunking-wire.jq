# chunking-wire.jq - bytes on the emulated link (both directions, MB) to
# bring a receiver's old copy up to the new file, per workload and strategy
# (fixed chunks, content-defined chunks, rsync), mean over the profiles
# (harness/bench/chunking.sh, "chunking" rows). Strategies in a fixed order.
["fixed-4k", "fixed-64k", "fixed-1m", "cdc-4k", "cdc-16k", "cdc-64k", "rsync"] as $order
| [ .[] | select(.type == "chunking") ] as $rows
| ($rows | map(.strategy) | unique) as $have
| [ $order[] | select(. as $s | $have | index($s)) ] as $series
| ($rows | group_by(.workload)) as $groups
| (["case"] + $series | @tsv),
  ($groups[] as $g
   | [ "\($g[0].workload) (\($g[0].new_size / 1048576 | round) MiB)" ]
     + [ $series[] as $s | ($g | map(select(.strategy == $s) | .wire_bytes)
                             | if length > 0 then add / length / 1e6 else "NaN" end) ]
   | @tsv)
