# migrations.jq - every migration scenario: downtime (writer suspended on the
# source until its first access completed on the destination) as median
# (min-max), n marked * below 5, rounds, bytes (medians; plots/stats.jq).
include "stats";
include "paperlib";
[ .[] | passed | select(.mode == "migrate" and .migration != null) ]
| group_by([lab, .approach, .workload, .profile, (.options | tostring), .size])
| ["| approach | workload | profile | options | size (MiB) | n | downtime (ms) median (min-max) | rounds | moved (MiB) | re-sent (MiB) |",
   "|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | ($g | map(.migration.downtime_s * 1000) | summary) as $d
    | "| \($g[0].approach)\($g[0] | labtag)\($g | nohead) | \($g[0].workload) | \($g[0].profile) | \($g[0].options | opts) | \($g[0].size / 1048576) | \($d | nmark) | \($d | spread) | \($g | map(.migration.rounds) | median | num) | \($g | map(.migration.bytes_moved / 1048576) | median | num) | \($g | map(.migration.bytes_resent / 1048576) | median | num) |")
| .[]
