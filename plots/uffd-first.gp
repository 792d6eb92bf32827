# uffd-first.gp - uffd first-access latency vs RTT against the RTT + 150 us target.
load 'plots/style.gp'
set title "uffd: first-access latency vs RTT (demand fault, page first)"
set xlabel "RTT (ms)"
set ylabel "ms"
PLOT = PLOT_LINES
@RENDER
