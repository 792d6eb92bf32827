# delta-cycles.jq - steady-state sync() time (ms) of the delta approach after a
# write workload, dirty=hash vs dirty=pagemap, per size, change rate and
# profile (memsync run records, access mode, approach delta; stats.jq).
include "stats";
[ .[] | passed | select(.approach == "delta" and .mode == "access"
               and (.workload | startswith("rand-write-")) and ((.options.dests // "0") == "0"))
  | [ "dirty=\(.options.dirty // "hash")",
      (.workload | ltrimstr("rand-write-")) as $w
      | [.profile, .size, ($w | rtrimstr("pct") | tonumber), "\(.profile) \(.size / 1048576) MiB \($w)"],
      (.sync_s * 1000) ] ]
| stats_table
