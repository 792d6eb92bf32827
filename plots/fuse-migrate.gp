# fuse-migrate.gp - migration downtime vs RTT: fuse two-phase next to uffd post-copy and delta pre-copy.
load 'plots/style.gp'
set title "migration downtime vs RTT, writer at 200 Mbit/s (median ms; destination verified)"
set xlabel "RTT (ms)"
set ylabel "ms (log)"
set logscale y
PLOT = "plot for [c=2:*] datafile using 1:c title columnhead"
@RENDER
