# baselines.jq - memory and disk per workload: MB/s and latencies as median
# (min-max) over runs, n marked * below 5 (plots/stats.jq).
include "stats";
include "paperlib";
[ .[] | passed | select(.mode == "access" and (.approach == "memory" or .approach == "disk")) ]
| group_by([lab, .approach, .workload])
| ["| approach | workload | n | MB/s median (min-max) | first access (us) | access p50 (us) | access p99 (us) |",
   "|---|---|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | (if $g[0].read_latency.count > 0 then "read_latency" else "write_latency" end) as $h
    | ($g | map(.throughput_mb_s) | summary) as $t
    | "| \($g[0].approach)\($g[0] | labtag)\($g | nohead) | \($g[0].workload) | \($t | nmark) | \($t | spread) | \($g | map(.first_access_ns / 1000) | summary | spread) | \($g | map(.[$h].p50_ns / 1000) | summary | spread) | \($g | map(.[$h].p99_ns / 1000) | summary | spread) |")
| .[]
