# fuse-prefetch.jq - read MB/s (median) per workload and profile, one column
# per mount and prefetch mode (off, readahead, notify_store).
include "pivot";
include "fuse-series";
[ measured("access") | select(.approach == "fuse" and .options.prefetch != null and only(["mount", "prefetch"])) ]
| group_by([series, .options.prefetch, .workload, .profile])
| map(["\(.[0] | series) \(.[0].options.prefetch)", "\(.[0].workload)/\(.[0].profile)", (map(.throughput_mb_s) | median)])
| pivot
