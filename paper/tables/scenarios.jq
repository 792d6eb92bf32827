# scenarios.jq - every approach/workload/profile: runs (warm-ups apart),
# pass/fail/skip (passed marked \* below 5), MB/s of the passed runs as
# median (min-max) (plots/stats.jq); † rows from files without a header.
include "stats";
include "paperlib";
[ .[] | select(.type == "scenario") ]
| group_by([lab, .approach, .workload, .profile])
| ["| approach | workload | profile | warm-ups | runs | passed | failed | skipped | MB/s median (min-max) |",
   "|---|---|---|---:|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | ($g | map(measured)) as $r
    | "| \($g[0].approach)\($g[0] | labtag)\($g | nohead) | \($g[0].workload) | \($g[0].profile) | \($g | map(select(.warmup == true)) | length) | \($r | length) | \({n: ($r | map(select(.status == "pass")) | length)} | nmark) | \($r | map(select(.status == "fail")) | length) | \($r | map(select(.status == "skip")) | length) | \($r | map(select(.status == "pass") | .throughput_mb_s) | summary | spread) |")
| .[]
