# fuse-first.jq - first-access latency (ms) vs RTT, one series per side (fuse
# direct and managed with the default 1 MiB requests and with 4 KiB
# requests, uffd, memory, disk) and the target RTT + 0.15 ms (stats.jq).
include "stats";
include "fuse-series";
[ .[] | passed | select(.mode == "access" and .workload == "first-access" and only(["mount", "max_io", "ra", "chunk"])
        and (.profile | test("rtt-[0-9]+ms")))
  | rtt as $rtt | [series, $rtt, (.first_access_ns / 1e6)], ["target RTT+0.15ms", $rtt, ($rtt + 0.15)] ]
| stats_table
