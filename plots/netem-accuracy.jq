# netem-accuracy.jq - link emulation accuracy (harness/bench/netem.sh): per
# driver and profile, measured RTT and TCP throughput as a fraction of the
# profile's target (1.0 = exact; TCP only for rates up to 1 Gbit/s); rows "case  RTT user  RTT tc  TCP user  TCP tc".
# RTT ratios use (measured + 0.2 ms) / (target + 0.2 ms), the same allowance
# as the benchmark's pass rule, so the 0 ms profile has a finite ratio.
[ .[] | select(.bench == "netem" and .type != "header" and .driver != null) ]
| map(. + {drv: (if .vm_lab then "\(.driver) (VM, TCG)" else .driver end)})
| (map(.drv) | unique) as $drivers
| group_by(.profile)
| (["case"] + ($drivers | map("RTT " + .)) + ($drivers | map("TCP " + .)) | @tsv),
  (sort_by(.[0].target.rtt_ms) | .[] | . as $g
   | [ $g[0].profile ]
     + ($drivers | map(. as $d | ($g | map(select(.drv == $d and .measured.rtt_ms_avg != null)
                                          | (.measured.rtt_ms_avg + 0.2) / (.target.rtt_ms + 0.2))) | if length > 0 then add / length else "NaN" end))
     + ($drivers | map(. as $d | ($g | map(select(.drv == $d and .target.rate_mbit != null and .target.rate_mbit <= 1000 and .measured.tcp_mbit != null)
                                          | .measured.tcp_mbit / .target.rate_mbit)) | if length > 0 then add / length else "NaN" end))
   | @tsv)
