# delta-cycles.jq - steady-state sync() time (ms) of the delta approach after a
# write workload, dirty=hash vs dirty=pagemap, per size, change rate and
# profile (memsync run records, access mode, approach delta; stats.jq).
include "stats";
[ .[] | passed | select(.approach == "delta" and .mode == "access"
               and (.workload | startswith("rand-write-")) and ((.options.dests // "0") == "0"))
  | [ "dirty=\(.options.dirty // "hash")",
      "\(.profile) \(.size / 1048576 | tostring | ("0000" + .)[-4:]) MiB \(.workload | ltrimstr("rand-write-"))",
      (.sync_s * 1000) ] ]
| stats_table
