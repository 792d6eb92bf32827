# nbd-start.jq - device start time (ms, mean) of memsync-nbd start-time: readiness
# by sysfs polling vs uevents, per attach method (records without a lab are
# labelled by the bench afterwards; harness/bench/nbd.sh).
include "pivot";
[ .[] | select(.type == "nbd-start" and .managed == false) ]
| group_by([.lab, .ready, .attach])
| map([ "\(.[0].ready) [\(.[0].lab // "?")]", .[0].attach, ((map(.start_ns) | add) / length / 1e6) ])
| pivot
