# fuse-write.gp - sequential write throughput (with the sync) vs RTT: fuse next to uffd and the baselines.
load 'plots/style.gp'
set title "fuse: sequential write incl. sync vs RTT (every byte verified locally and remotely)"
set xlabel "RTT (ms)"
set ylabel "MB/s (log)"
set logscale y
PLOT = PLOT_LINES
@RENDER
