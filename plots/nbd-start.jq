# nbd-start.jq - device start time (ms) of memsync-nbd start-time: readiness
# by sysfs polling vs uevents, per attach method, one lab (records without a
# lab are labelled by the bench afterwards; harness/bench/nbd.sh; median,
# min-max, n: stats.jq).
include "stats"; include "nbd-lib";
[ with_lab | measured | select(.type == "nbd-start" and .managed == false) | .lab //= "?" ] | one_lab
| map([ "\(.ready) [\(.lab)]", .attach, .start_ns / 1e6 ])
| stats_table
