# delta-rsync.jq - time and bytes on the wire to bring a remote copy up to
# date, delta vs rsync over the same emulated link (harness/bench/delta.sh
# rows): median (min-max) over rows, n marked * below 5 (plots/stats.jq).
include "stats";
include "paperlib";
[ .[] | measured | select(.type == "delta-rsync" and .method != null) ]
| group_by([.profile, .fraction, .size])
| ["| profile | changed | size (MiB) | method | n | time (ms) median (min-max) | wire (MB) | wire / (chunks + hashes) | rsync time / this |",
   "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
  + (map(. as $g
     | ($g | map(select(.method == "rsync") | .seconds) | summary | .median) as $rs
     | ($g | group_by(.method) | map(. as $m
        | ($m | map(.seconds * 1000) | summary) as $t
        | "| \($m[0].profile)\($m | nohead) | \($m[0].fraction * 100)% | \($m[0].size / 1048576) | \($m[0].method) | \($t | nmark) | \($t | spread) | \($m | map(.wire_bytes / 1e6) | summary | .median | num) | \($m | map(.wire_over_payload_plus_hashes) | summary | .median | num) | \(if $rs and $t.median > 0 then ($rs * 1000 / $t.median | num) else "-" end) |")))
     | flatten)
| .[]
