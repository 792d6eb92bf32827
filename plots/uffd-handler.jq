# uffd-handler.jq - uffd throughput (MB/s) per workload, one series per
# handler mode (process, inprocess); "demand 4k" = prefetch=off chunk=4k (stats.jq).
include "stats";
[ .[] | passed | select(.approach == "uffd" and .mode == "access"
        and .options.handler != null and .workload != "first-access")
  | [ ("handler=" + .options.handler),
      (.workload + (if .options.prefetch == "off" then " demand 4k" else "" end) + "/" + .profile),
      .throughput_mb_s ] ]
| stats_table
