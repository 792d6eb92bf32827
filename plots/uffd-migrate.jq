# uffd-migrate.jq - uffd post-copy migration vs RTT (means of passed runs):
# rows "RTT_ms  downtime_ms  total_s (switch to destination fully verified)".
[ .[] | select(.type == "scenario" and .approach == "uffd" and .status == "pass" and .mode == "migrate"
        and (.profile | test("^rtt-[0-9]+ms$"))) ]
| map(. + {rtt: (.profile | capture("rtt-(?<n>[0-9]+)ms").n | tonumber)})
| group_by(.rtt)
| (["RTT_ms", "downtime_ms", "total_s"] | @tsv),
  (.[] | [ .[0].rtt, (map(.migration.downtime_s) | add / length * 1000), (map(.sync_s) | add / length) ] | @tsv)
