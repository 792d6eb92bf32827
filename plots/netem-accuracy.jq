# netem-accuracy.jq - link emulation accuracy (harness/bench/netem.sh): per
# profile (cases, by target RTT) and driver, measured RTT and TCP throughput
# as a fraction of the profile's target (1.0 = exact; TCP only for rates up
# to 1 Gbit/s). RTT ratios use (measured + 0.2 ms) / (target + 0.2 ms), the
# same allowance as the benchmark's pass rule, so the 0 ms profile has a
# finite ratio. Cases sort by target RTT.
include "stats";
[ .[] | measured | select(.bench == "netem" and .type != "header" and .driver != null) ]
| map(. + {drv: (if .vm_lab then "\(.driver) (VM, TCG)" else .driver end),
           c: [.target.rtt_ms, .profile]})
| [ (.[] | select(.measured.rtt_ms_avg != null)
     | [ "RTT " + .drv, .c, ((.measured.rtt_ms_avg + 0.2) / (.target.rtt_ms + 0.2)) ]),
    (.[] | select(.target.rate_mbit != null and .target.rate_mbit <= 1000 and .measured.tcp_mbit != null)
     | [ "TCP " + .drv, .c, (.measured.tcp_mbit / .target.rate_mbit) ]) ]
| stats_table
