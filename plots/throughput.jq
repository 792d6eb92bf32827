# throughput.jq - mean throughput (MB/s) of passed access scenarios, one
# column per approach, one row per workload/profile.
include "pivot";
[ .[] | select(.type == "scenario" and .status == "pass" and .mode == "access") ]
| group_by([.approach, .workload, .profile])
| map([ .[0].approach, (.[0].workload + "/" + .[0].profile),
       ((map(.throughput_mb_s) | add) / length) ])
| pivot
