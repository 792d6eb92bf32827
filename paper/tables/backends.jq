# backends.jq - where the remote copy lives (harness/bench/backends.sh rows):
# per profile and backend, first-chunk latency (one 1 MiB read on a fresh
# connection, ms) and random 1 MiB read MB/s per number of pull workers,
# each the median (min-max) over the runs of every row with that key
# (runs_ms, runs_mbps) and n, marked \* below 5 (plots/stats.jq).
include "stats";
include "paperlib";
[ .[] | measured | select(.bench == "backends" and .type != "header" and .metric != null) ]
| (map(select(.metric == "throughput") | .workers) | unique) as $ws
| group_by([.profile, .backend])
| ["| profile | backend | first chunk (ms) | " + ($ws | map("\(.) worker\(if . == 1 then "" else "s" end) (MB/s)") | join(" | ")) + " |",
   "|---|---|---:|" + ($ws | map("---:") | join("|")) + "|"]
  + map(. as $g
    | "| \($g[0].profile)\($g | nohead) | \($g[0].backend) | \($g | map(select(.metric == "first_chunk") | .runs_ms // [.first_chunk_ms]) | add // [] | summary | cell) | "
      + ($ws | map(. as $w | $g | map(select(.metric == "throughput" and .workers == $w) | .runs_mbps // [.mbps]) | add // [] | summary | cell) | join(" | ")) + " |")
| .[]
