# migrations.jq - every migration scenario: downtime (writer suspended on the
# source until its first access completed on the destination), rounds, bytes.
def med: sort | if length == 0 then null else .[(length / 2 | floor)] end;
[ .[] | select(.type == "scenario" and .status == "pass" and .mode == "migrate" and .migration != null) ]
| group_by([.approach, .workload, .profile, (.options | tostring), .size])
| ["| approach | workload | profile | options | size (MiB) | runs | downtime p50 (ms) | downtime max (ms) | rounds | moved (MiB) | re-sent (MiB) |",
   "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | ($g | map(.migration.downtime_s * 1000)) as $d
    | "| \($g[0].approach) | \($g[0].workload) | \($g[0].profile) | \($g[0].options | to_entries | map("\(.key)=\(.value)") | join(" ")) | \($g[0].size / 1048576) | \($g | length) | \($d | med | . * 100 | round / 100) | \($d | max | . * 100 | round / 100) | \($g | map(.migration.rounds) | med) | \(($g | map(.migration.bytes_moved) | add / length) / 1048576 * 10 | round / 10) | \(($g | map(.migration.bytes_resent) | add / length) / 1048576 * 10 | round / 10) |")
| .[]
