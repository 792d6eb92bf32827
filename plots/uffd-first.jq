# uffd-first.jq - uffd first-access latency (ms) vs RTT (rtt-* profiles),
# next to the target RTT + 0.15 ms (stats.jq).
include "stats";
[ .[] | passed | select(.approach == "uffd" and .mode == "access"
        and .workload == "first-access" and (.profile | test("^rtt-[0-9]+ms$")))
  | (.profile | capture("rtt-(?<n>[0-9]+)ms").n | tonumber) as $rtt
  | [ "first access", $rtt, (.first_access_ns / 1e6) ], [ "target RTT+0.15ms", $rtt, ($rtt + 0.15) ] ]
| stats_table
