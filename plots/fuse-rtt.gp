# fuse-rtt.gp - sequential read throughput vs RTT: fuse direct and managed next to uffd and the baselines.
load 'plots/style.gp'
set title "fuse: sequential read vs RTT (MB/s = 10^6 B/s, every byte verified)"
set xlabel "RTT (ms)"
set ylabel "MB/s (log)"
set logscale y
PLOT = PLOT_LINES
@RENDER
