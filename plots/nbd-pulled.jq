# nbd-pulled.jq - MiB the managed engine pulled before the device was ready vs
# background pull requests in flight (memsync-nbd start-time --remote; harness/bench/nbd.sh).
include "pivot"; include "nbd-lib";
[ .[] | select(.type == "nbd-start" and .managed == true) ]
| group_by([.lab, .pull_inflight])
| map([ "pulled before ready [\(.[0].lab // "?")]", .[0].pull_inflight,
         ((map(.pulled_before_ready) | add) / length / 1048576) ])
| npivot
