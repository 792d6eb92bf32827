# throughput.gp - throughput of every approach per workload and profile
# (MB/s = 10^6 bytes/s, workload phase only; log scale).
load 'plots/style.gp'
set title "Throughput per approach (MB/s = 10^6 B/s; higher is better)"
set ylabel "MB/s (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
