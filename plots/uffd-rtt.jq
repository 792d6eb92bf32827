# uffd-rtt.jq - uffd sequential read throughput (MB/s) vs RTT (rtt-* profiles):
# rows "RTT_ms  prefetch=off  prefetch=both" (mean of passed runs; NaN = none).
[ .[] | select(.type == "scenario" and .approach == "uffd" and .status == "pass" and .mode == "access"
        and .workload == "seq-read" and (.profile | test("^rtt-[0-9]+ms$"))) ]
| map(. + {rtt: (.profile | capture("rtt-(?<n>[0-9]+)ms").n | tonumber),
           pf: (.options.prefetch // "both")})
| group_by(.rtt)
| (["RTT_ms", "prefetch=off", "prefetch=both"] | @tsv),
  (.[] | . as $g
   | [ $g[0].rtt,
       (($g | map(select(.pf == "off") | .throughput_mb_s)) as $a | if ($a | length) > 0 then ($a | add / length) else "NaN" end),
       (($g | map(select(.pf == "both") | .throughput_mb_s)) as $a | if ($a | length) > 0 then ($a | add / length) else "NaN" end) ]
   | @tsv)
