# delta-migrate.jq - pre-copy migration downtime (ms) of the delta approach
# per profile and writer rate, dirty=hash vs dirty=pagemap (memsync run
# --migrate records; stats.jq).
include "stats";
[ .[] | passed | select(.approach == "delta" and .mode == "migrate")
  | [ "dirty=\(.options.dirty // "hash")",
      (.workload | ltrimstr("migrate-writer") | ltrimstr("-") | if . == "" then "200mbit" else . end) as $w
      | [.profile, ($w | rtrimstr("mbit") | tonumber), .size, "\(.profile) \($w) \(.size / 1048576) MiB"],
      (.migration.downtime_s * 1000) ] ]
| stats_table
