# uffd-first.gp - uffd first-access latency (p50) vs RTT against the RTT + 150 us target.
load 'plots/style.gp'
set title "uffd: first-access latency vs RTT (p50; demand fault, page first)"
set xlabel "RTT (ms)"
set ylabel "ms"
PLOT = "plot for [c=2:3] datafile using 1:c title columnhead"
@RENDER
