# chunking.jq - chunking strategies of the delta engine vs rsync
# (harness/bench/chunking.sh, "chunking" rows, one per transfer): per
# workload, profile and strategy, n (marked \* below 5), time to sync and
# bytes on the link as median (min-max), and the medians of the payload,
# metadata (hashes, recipes, wants; rsync: all but its literal data) and
# CPU seconds on each side; the last column is rsync's median wire bytes
# over this strategy's (above 1: fewer bytes than rsync). MB = 10^6 B.
include "stats";
include "paperlib";
["fixed-4k", "fixed-64k", "fixed-1m", "cdc-4k", "cdc-16k", "cdc-64k", "rsync"] as $order
| [ .[] | measured | select(.type == "chunking" and .strategy != null) ]
| group_by([.workload, .profile])
| ["| workload | profile | strategy | n | time (s) median (min-max) | link (MB) median (min-max) | payload (MB) | metadata (MB) | CPU sender (s) | CPU receiver (s) | rsync link / this |",
   "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
  + (map(. as $w
      | ($w | map(select(.strategy == "rsync") | .wire_bytes) | median) as $rs
      | $w | group_by(.strategy) | sort_by(.[0].strategy as $s | $order | index($s) // 99)
      | map(. as $g | ($g | map(.seconds) | summary) as $t | ($g | map(.wire_bytes / 1e6) | summary) as $b
        | "| \($g[0].workload)\($g | nohead) | \($g[0].profile) | \($g[0].strategy) | \($t | nmark) | \($t | spread) | \($b | spread) | \($g | map(.payload_bytes / 1e6) | median | num) | \($g | map(.metadata_bytes / 1e6) | median | num) | \($g | map(.cpu_sender_s) | median | num) | \($g | map(.cpu_receiver_s) | median | num) | \(if $rs != null and ($b.median // 0) > 0 then ($rs / 1e6 / $b.median | num) else "-" end) |"))
     | flatten)
| .[]
