# fuse-first.gp - first-access latency vs RTT: fuse direct and managed next to uffd and the baselines.
load 'plots/style.gp'
set title "fuse: first-access latency vs RTT (median over runs; every byte verified)"
set xlabel "RTT (ms)"
set ylabel "ms (log)"
set logscale y
PLOT = "plot for [c=2:*] datafile using 1:c title columnhead"
@RENDER
