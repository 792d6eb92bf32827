# uffd-handler.jq - uffd mean throughput (MB/s) per workload, one column per
# handler mode (process, inprocess); "demand 4k" = prefetch=off chunk=4k.
include "pivot";
[ .[] | select(.type == "scenario" and .approach == "uffd" and .status == "pass" and .mode == "access"
        and .options.handler != null and .workload != "first-access") ]
| group_by([.options.handler, .workload, .options.prefetch, .profile])
| map([ ("handler=" + .[0].options.handler),
        (.[0].workload + (if .[0].options.prefetch == "off" then " demand 4k" else "" end) + "/" + .[0].profile),
        ((map(.throughput_mb_s) | add) / length) ])
| pivot
