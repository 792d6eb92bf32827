# delta-rsync.jq - time and bytes on the wire to bring a remote copy up to
# date, delta vs rsync over the same emulated link (harness/bench/delta.sh).
[ .[] | select(.type == "delta-rsync" and .method != null) ]
| group_by([.profile, .fraction, .size])
| ["| profile | changed | size (MiB) | method | time (ms) | wire (MB) | wire / (chunks + hashes) | rsync time / this |",
   "|---|---:|---:|---|---:|---:|---:|---:|"]
  + (map(. as $g
     | (($g | map(select(.method == "rsync") | .seconds)) | if length > 0 then add / length else null end) as $rs
     | ($g | group_by(.method) | map(. as $m
        | ($m | map(.seconds) | add / length) as $t
        | "| \($m[0].profile) | \($m[0].fraction * 100)% | \($m[0].size / 1048576) | \($m[0].method) | \($t * 1000 | round) | \(($m | map(.wire_bytes) | add / length) / 1e6 * 10 | round / 10) | \(if $m[0].wire_over_payload_plus_hashes then ($m | map(.wire_over_payload_plus_hashes) | add / length * 1000 | round / 1000) else "-" end) | \(if $rs and $t > 0 then ($rs / $t * 10 | round / 10) else "-" end) |")))
     | flatten)
| .[]
