# nbd-migrate.gp - two-phase migration downtime vs RTT and writer rate (one lab).
load 'plots/style.gp'
load 'plots/nbd-lab.gp'
set title "nbd: two-phase migration downtime vs RTT (ms; ".LAB.")"
set xlabel "RTT (ms)"
set ylabel "ms"
set yrange [0:*]
@BARS; PLOT = PLOT_BARS
@RENDER
