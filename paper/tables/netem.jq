# netem.jq - link emulation accuracy per driver and profile
# (harness/bench/netem.sh): target vs measured RTT, TCP throughput and loss;
# one row per measurement (the bench's own pass marks), n = pings per RTT.
include "stats";
def f1: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
def ok: if . == null then "" elif . then " ok" else " **miss**" end;
[ .[] | measured | select(.bench == "netem" and .type != "header" and .driver != null) ]
| sort_by([.driver, .vm_lab, .target.rtt_ms, .profile])
| ["| driver | where | profile | RTT target (ms) | RTT avg (min-max) (ms) | rate (Mbit/s) | TCP (Mbit/s) | loss target (%) | link loss (%) |",
   "|---|---|---|---:|---:|---:|---:|---:|---:|"]
  + map("| \(.driver) | \(if .vm_lab then "VM lab (TCG)" else "native" end) | \(.profile) | \(.target.rtt_ms | f1) | \(.measured.rtt_ms_avg | f1) (\(.measured.rtt_ms_min | f1)-\(.measured.rtt_ms_max | f1))\(.ok.rtt | ok) | \(.target.rate_mbit | f1) | \(.measured.tcp_mbit | f1)\(.ok.tcp | ok) | \(.target.loss_pct | f1) | \(.measured.link_loss_pct | f1)\(.ok.loss | ok) |")
| .[]
