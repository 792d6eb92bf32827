# first-access.jq - mean first-access latency (us) of passed access
# scenarios, one column per approach, one row per workload/profile.
include "pivot";
[ .[] | select(.type == "scenario" and .status == "pass" and .mode == "access") ]
| group_by([.approach, .workload, .profile])
| map([ .[0].approach, (.[0].workload + "/" + .[0].profile),
       ((map(.first_access_ns) | add) / length / 1000) ])
| pivot
