# thesis-migration.gp - migration downtime vs RTT with the 200 Mbit/s writer: uffd post-copy, delta pre-copy, fuse and nbd two-phase.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] migration downtime vs RTT, writer 200 Mbit/s (ms, log; destination verified)" noenhanced
set xlabel "RTT (ms)" noenhanced
set ylabel "ms (log)" noenhanced
set logscale y
PLOT = PLOT_LINES
@RENDER
