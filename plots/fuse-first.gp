# fuse-first.gp - first-access latency vs RTT: fuse direct and managed next to uffd and the baselines.
load 'plots/style.gp'
set title "fuse: first-access latency vs RTT (every byte verified)"
set xlabel "RTT (ms)"
set ylabel "ms (log)"
set logscale y
PLOT = PLOT_LINES
@RENDER
