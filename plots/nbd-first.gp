# nbd-first.gp - first-access latency vs RTT, nbd direct/managed and the others (one lab, same bench).
load 'plots/style.gp'
load 'plots/nbd-lab.gp'
set title "nbd: first access vs RTT (ms; ".LAB.")"
set xlabel "RTT (ms)"
set ylabel "ms"
set yrange [0:*]
@BARS; PLOT = PLOT_BARS
@RENDER
