# uffd-chunk.jq - uffd read throughput (MB/s) vs fault-around chunk size (prefetch off, local):
# rows "chunk_KiB  seq-read-4k  rand-read".
[ .[] | select(.type == "scenario" and .approach == "uffd" and .status == "pass" and .mode == "access"
        and .profile == "local" and .options.prefetch == "off" and (.options.chunk != null)
        and (.options.threads == null) and (.workload == "seq-read-4k" or .workload == "rand-read")) ]
| map(. + {kib: (.options.chunk | capture("^(?<n>[0-9]+)(?<u>[km])$") | (.n | tonumber) * (if .u == "m" then 1024 else 1 end))})
| group_by(.kib)
| (["chunk_KiB", "seq-read-4k", "rand-read"] | @tsv),
  (.[] | . as $g
   | [ $g[0].kib,
       (($g | map(select(.workload == "seq-read-4k") | .throughput_mb_s)) as $a | if ($a | length) > 0 then ($a | add / length) else "NaN" end),
       (($g | map(select(.workload == "rand-read") | .throughput_mb_s)) as $a | if ($a | length) > 0 then ($a | add / length) else "NaN" end) ]
   | @tsv)
