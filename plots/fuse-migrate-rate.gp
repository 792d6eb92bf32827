# fuse-migrate-rate.gp - migration downtime vs writer rate at 20 ms RTT, 1 Gbit/s (wan).
load 'plots/style.gp'
set title "migration downtime vs writer rate, wan (20 ms RTT, 1 Gbit/s)"
set xlabel "writer rate (Mbit/s, log)"
set ylabel "ms (log)"
set logscale xy
PLOT = PLOT_LINES
@RENDER
