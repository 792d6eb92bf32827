# scenarios.jq - every approach/workload/profile: runs (warm-ups apart),
# pass/fail/skip, MB/s of the passed runs as median (min-max) (plots/stats.jq).
include "stats";
[ .[] | select(.type == "scenario") ]
| group_by([.approach, .workload, .profile])
| ["| approach | workload | profile | warm-ups | runs | passed | failed | skipped | MB/s median (min-max) |",
   "|---|---|---|---:|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | ($g | map(measured)) as $r
    | "| \($g[0].approach) | \($g[0].workload) | \($g[0].profile) | \($g | map(select(.warmup == true)) | length) | \($r | length) | \($r | map(select(.status == "pass")) | length) | \($r | map(select(.status == "fail")) | length) | \($r | map(select(.status == "skip")) | length) | \($r | map(select(.status == "pass") | .throughput_mb_s) | summary | spread) |")
| .[]
