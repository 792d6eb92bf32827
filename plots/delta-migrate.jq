# delta-migrate.jq - pre-copy migration downtime (ms) of the delta approach
# per profile, dirty=hash vs dirty=pagemap (memsync run --migrate records).
include "pivot";
[ .[] | select(.type == "scenario" and .status == "pass" and .approach == "delta" and .mode == "migrate") ]
| group_by([(.options.dirty // "hash"), .profile, .size])
| map([ "dirty=\(.[0].options.dirty // "hash")", "\(.[0].profile) \(.[0].size / 1048576) MiB",
        ((map(.migration.downtime_s) | add) / length * 1000) ])
| pivot
