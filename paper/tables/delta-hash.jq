# delta-hash.jq - hash throughput (GB/s) per algorithm and chunk size, one
# thread and all threads (memsync-delta hashbench rows, each the best of its
# own repeats; median (min-max) over rows when there are several; stats.jq).
include "stats";
include "paperlib";
[ .[] | measured | select(.type == "delta-hash") ]
| (map(.chunk) | unique) as $ch
| ["| hash | threads | n | " + ($ch | map("\(. / 1024) KiB") | join(" | ")) + " |",
   "|---|---:|---:|" + ($ch | map("---:") | join("|")) + "|"]
  + (group_by([.hash, .threads]) | map(. as $g
     | "| \($g[0].hash)\($g | nohead) | \($g[0].threads) | \($ch | map(. as $c | $g | map(select(.chunk == $c)) | length) | min | {n: .} | nmark) | " + ($ch | map(. as $c | $g | map(select(.chunk == $c) | .gb_s) | summary | spread) | join(" | ")) + " |"))
| .[]
