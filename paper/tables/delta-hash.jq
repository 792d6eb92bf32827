# delta-hash.jq - hash throughput (GB/s) per algorithm and chunk size, one
# thread and all threads (memsync-delta hashbench, best of its repeats).
[ .[] | select(.type == "delta-hash") ]
| (map(.threads) | unique) as $th
| (map(.chunk) | unique) as $ch
| ["| hash | threads | " + ($ch | map("\(. / 1024) KiB") | join(" | ")) + " |",
   "|---|---:|" + ($ch | map("---:") | join("|")) + "|"]
  + (group_by([.hash, .threads]) | map(. as $g
     | "| \($g[0].hash) | \($g[0].threads) | " + ($ch | map(. as $c | ($g | map(select(.chunk == $c) | .gb_s)) | if length > 0 then (add / length * 10 | round / 10 | tostring) else "-" end) | join(" | ")) + " |"))
| .[]
