# uffd-threads.jq - uffd throughput (MB/s) vs handler threads:
# rows "threads  seq-read-4k/local  rand-read/local  rand-read/rtt-2ms+prefetch".
[ .[] | select(.type == "scenario" and .approach == "uffd" and .status == "pass" and .mode == "access"
        and .options.threads != null) ]
| map(. + {t: (.options.threads | tonumber), k: (.workload + "/" + .profile)})
| group_by(.t)
| (["threads", "seq-read-4k/local", "rand-read/local", "rand-read/rtt-2ms prefetch"] | @tsv),
  (.[] | . as $g
   | [ $g[0].t ] + ([ "seq-read-4k/local", "rand-read/local", "rand-read/rtt-2ms" ]
       | map(. as $k | ($g | map(select(.k == $k) | .throughput_mb_s)) as $a
             | if ($a | length) > 0 then ($a | add / length) else "NaN" end))
   | @tsv)
