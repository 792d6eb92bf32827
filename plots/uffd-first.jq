# uffd-first.jq - uffd first-access latency (median over runs, ms) vs RTT:
# rows "RTT_ms  first_access_p50_ms  target_ms (RTT + 0.15 ms)".
[ .[] | select(.type == "scenario" and .approach == "uffd" and .status == "pass" and .mode == "access"
        and .workload == "first-access" and (.profile | test("^rtt-[0-9]+ms$"))) ]
| map(. + {rtt: (.profile | capture("rtt-(?<n>[0-9]+)ms").n | tonumber)})
| group_by(.rtt)
| (["RTT_ms", "first-access p50", "target RTT+0.15ms"] | @tsv),
  (.[] | (map(.first_access_ns) | sort) as $v
   | [ .[0].rtt, ($v[(($v | length) / 2 | floor)] / 1e6), (.[0].rtt + 0.15) ] | @tsv)
