# uffd-handler-first.jq - uffd first-access latency (ms), one case per
# profile, one series per handler mode (stats.jq).
include "stats";
[ .[] | passed | select(.approach == "uffd" and .mode == "access"
        and .options.handler != null and .workload == "first-access")
  | [ ("handler=" + .options.handler), .profile, (.first_access_ns / 1e6) ] ]
| stats_table
