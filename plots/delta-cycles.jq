# delta-cycles.jq - steady-state sync() time of the delta approach after a
# write workload, dirty=hash vs dirty=pagemap, per size, change rate and
# profile (memsync run records, access mode, approach delta).
include "pivot";
[ .[] | select(.type == "scenario" and .status == "pass" and .approach == "delta" and .mode == "access"
               and (.workload | startswith("rand-write-")) and ((.options.dests // "0") == "0")) ]
| group_by([(.options.dirty // "hash"), .size, .workload, .profile])
| map([ "dirty=\(.[0].options.dirty // "hash")",
        "\(.[0].profile) \(.[0].size / 1048576 | tostring | ("0000" + .)[-4:]) MiB \(.[0].workload | ltrimstr("rand-write-"))",
        ((map(.sync_s) | add) / length * 1000) ])
| pivot
