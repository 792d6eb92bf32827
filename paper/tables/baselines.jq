# baselines.jq - memory and disk: mean throughput and latency per workload.
[ .[] | select(.type == "scenario" and .status == "pass" and .mode == "access"
               and (.approach == "memory" or .approach == "disk")) ]
| group_by([.approach, .workload])
| ["| approach | workload | runs | MB/s | first access (us) | p50 (us) | p99 (us) |",
   "|---|---|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | (if $g[0].read_latency.count > 0 then "read_latency" else "write_latency" end) as $h
    | "| \($g[0].approach) | \($g[0].workload) | \($g | length) | \((($g | map(.throughput_mb_s) | add) / ($g | length)) | floor) | \((($g | map(.first_access_ns) | add) / ($g | length) / 1000 * 10 | floor) / 10) | \((($g | map(.[$h].p50_ns) | add) / ($g | length) / 1000 * 10 | floor) / 10) | \((($g | map(.[$h].p99_ns) | add) / ($g | length) / 1000 * 10 | floor) / 10) |")
| .[]
