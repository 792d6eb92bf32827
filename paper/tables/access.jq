# access.jq - every access scenario of the remote approaches (not the
# baselines), per workload, profile, link driver, size and options: mean
# throughput, first-access latency p50 over runs, CPU per GiB, wire bytes.
def med: sort | if length == 0 then null else .[(length / 2 | floor)] end;
[ .[] | select(.type == "scenario" and .status == "pass" and .mode == "access"
               and .approach != "memory" and .approach != "disk") ]
| group_by([.approach, .workload, .profile, .netem, .size, (.options | tostring)])
| ["| approach | workload | profile | link | size (MiB) | options | runs | MB/s mean (min-max) | first access p50 (us) | CPU s/GiB | wire (MB) |",
   "|---|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
  + map(. as $g
    | ($g | map(.throughput_mb_s)) as $t
    | "| \($g[0].approach) | \($g[0].workload) | \($g[0].profile) | \($g[0].netem) | \($g[0].size / 1048576) | \($g[0].options | to_entries | map("\(.key)=\(.value)") | join(" ")) | \($g | length) | \($t | add / length | floor) (\($t | min | floor)-\($t | max | floor)) | \($g | map(.first_access_ns / 1000) | med | . * 10 | round / 10) | \($g | map(.cpu_s.per_gib) | add / length | . * 100 | round / 100) | \($g | map(.wire.bytes_out + .wire.bytes_in) | add / length / 1e6 | . * 10 | round / 10) |")
| .[]
