# fuse-migrate.gp - migration downtime vs RTT: fuse two-phase next to uffd post-copy and delta pre-copy.
load 'plots/style.gp'
set title "migration downtime vs RTT, writer at 200 Mbit/s (ms; destination verified)"
set xlabel "RTT (ms)"
set ylabel "ms (log)"
set logscale y
PLOT = PLOT_LINES
@RENDER
