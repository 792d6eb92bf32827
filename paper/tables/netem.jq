# netem.jq - link emulation accuracy per driver and profile
# (harness/bench/netem.sh rows, one per round): target vs measured RTT (the
# rounds' averages), TCP throughput and link loss as median (min-max) over
# the rounds, n marked * below 5, and how many rounds met the bench's pass
# rule ("miss" in bold when any did not). Statistics: plots/stats.jq.
include "stats";
include "paperlib";
def f1: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
# "k/n ok" over the rounds' pass marks (null: no target for this measure).
def oks(f): map(f | select(. != null)) | if length == 0 then ""
  else (map(select(. == true)) | length) as $k | if $k == length then " ok" else " **miss** (\($k)/\(length) ok)" end end;
[ .[] | measured | select(.bench == "netem" and .type != "header" and .driver != null) ]
| group_by([.driver, .vm_lab, .target.rtt_ms, .profile])
| ["| driver | where | profile | n | RTT target (ms) | RTT avg (ms) | rate (Mbit/s) | TCP (Mbit/s) | loss target (%) | link loss (%) |",
   "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
  + map(. as $g | $g[0] as $r
    | ($g | map(.measured.rtt_ms_avg) | summary) as $rtt
    | "| \($r.driver)\($g | nohead) | \(if $r.vm_lab then "VM lab (TCG)" else "native" end) | \($r.profile) | \($rtt | nmark) | \($r.target.rtt_ms | f1) | \($rtt | spread)\($g | oks(.ok.rtt)) | \($r.target.rate_mbit | f1) | \($g | map(.measured.tcp_mbit) | summary | spread)\($g | oks(.ok.tcp)) | \($r.target.loss_pct | f1) | \($g | map(.measured.link_loss_pct) | summary | spread)\($g | oks(.ok.loss)) |")
| .[]
