# uffd-rtt.jq - uffd sequential read throughput (MB/s) vs RTT (rtt-*
# profiles), one series per prefetch mode (stats.jq).
include "stats";
[ .[] | passed | select(.approach == "uffd" and .mode == "access"
        and .workload == "seq-read" and (.profile | test("^rtt-[0-9]+ms$")))
  | [ "prefetch=\(.options.prefetch // "both")", (.profile | capture("rtt-(?<n>[0-9]+)ms").n | tonumber),
      .throughput_mb_s ] ]
| stats_table
