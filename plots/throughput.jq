# throughput.jq - throughput (MB/s) of passed access scenarios, one series
# per approach, one case per workload/profile (median, min-max, n: stats.jq);
# first-access runs (one 4 KiB access) have no meaningful throughput; a run
# on a link its driver cannot carry at the profile's rate says "link capped".
# Native runs only: a record of the VM lab ("lab" vm-tcg, or a run whose
# header says VM) is left out (the nbd-* figures show those; nbd-lib.jq).
include "stats"; include "nbd-lib";
[ with_lab | native | passed | select(.mode == "access" and .workload != "first-access")
  | [ .approach, (.workload + "/" + .profile + (if .link_capped == true then " (link capped)" else "" end)), .throughput_mb_s ] ]
| stats_table
