# access.jq - every access scenario of the remote approaches (not the
# baselines), per workload, profile, link driver, size and options: MB/s and
# first-access latency as median (min-max) over runs, n (marked * below 5),
# CPU s per GiB and wire bytes (medians); a link whose driver cannot carry the
# profile's rate says "capped" with its ceiling. Statistics: plots/stats.jq.
include "stats";
include "paperlib";
[ .[] | passed | select(.mode == "access" and .approach != "memory" and .approach != "disk") ]
| group_by([lab, .approach, .workload, .profile, .netem, .size, (.options | tostring)])
| ["| approach | workload | profile | link | size (MiB) | options | n | MB/s median (min-max) | first access (us) median (min-max) | CPU s/GiB | wire (MB) |",
   "|---|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | ($g | map(.throughput_mb_s) | summary) as $t
    | "| \($g[0].approach)\($g[0] | labtag)\($g | nohead) | \($g[0].workload) | \($g[0].profile) | \($g[0].netem)\($g | map(select(.link_capped == true) | .link_ceiling_mbit) | if length > 0 then " **capped** at \(min | num) Mbit/s" else "" end) | \($g[0].size / 1048576) | \($g[0].options | opts) | \($t | nmark) | \($t | spread) | \($g | map(.first_access_ns / 1000) | summary | spread) | \($g | map(.cpu_s.per_gib) | median | num) | \($g | map(.wire.bytes_out + .wire.bytes_in) | median | if . == null then null else . / 1e6 end | num) |")
| .[]
