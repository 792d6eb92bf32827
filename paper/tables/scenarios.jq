# scenarios.jq - every approach/workload/profile: runs, pass/fail/skip, mean MB/s.
[ .[] | select(.type == "scenario") ]
| group_by([.approach, .workload, .profile])
| ["| approach | workload | profile | runs | passed | failed | skipped | MB/s (passed) |",
   "|---|---|---|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | ($g | map(select(.status == "pass"))) as $p
    | "| \($g[0].approach) | \($g[0].workload) | \($g[0].profile) | \($g | length) | \($p | length) | \($g | map(select(.status == "fail")) | length) | \($g | map(select(.status == "skip")) | length) | \(if ($p | length) > 0 then (($p | map(.throughput_mb_s) | add) / ($p | length) | floor) else "-" end) |")
| .[]
