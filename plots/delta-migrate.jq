# delta-migrate.jq - pre-copy migration downtime (ms) of the delta approach
# per profile and writer rate, dirty=hash vs dirty=pagemap (memsync run --migrate records).
include "pivot";
[ .[] | select(.type == "scenario" and .status == "pass" and .approach == "delta" and .mode == "migrate") ]
| group_by([(.options.dirty // "hash"), .profile, .workload])
| map([ "dirty=\(.[0].options.dirty // "hash")",
        "\(.[0].profile) \(.[0].workload | ltrimstr("migrate-writer") | ltrimstr("-") | if . == "" then "200mbit" else . end | ("0000" + .)[-7:]) \(.[0].size / 1048576) MiB",
        ((map(.migration.downtime_s) | add) / length * 1000) ])
| pivot
