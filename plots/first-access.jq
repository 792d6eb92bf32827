# first-access.jq - first-access latency (us) of passed access scenarios,
# one series per approach, one case per workload/profile (stats.jq). Native
# runs only: VM-lab records ("lab" vm-tcg, or a run whose header says VM) are
# left out (the nbd-* figures show those; nbd-lib.jq).
include "stats"; include "nbd-lib";
[ with_lab | native | passed | select(.mode == "access")
  | [ .approach, (.workload + "/" + .profile), (.first_access_ns / 1000) ] ]
| stats_table
