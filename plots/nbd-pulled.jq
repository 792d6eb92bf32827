# nbd-pulled.jq - MiB the managed engine pulled before the device was ready vs
# background pull requests in flight, one lab (memsync-nbd start-time
# --remote; harness/bench/nbd.sh; median, min-max, n: stats.jq).
include "stats"; include "nbd-lib";
[ with_lab | measured | select(.type == "nbd-start" and .managed == true) | .lab //= "?" ] | one_lab
| map([ "pulled before ready [\(.lab)]", .pull_inflight, .pulled_before_ready / 1048576 ])
| stats_table
