# throughput.gp - throughput of every approach per workload and profile, native runs only (VM-lab runs: the nbd-* figures).
# (MB/s = 10^6 bytes/s, workload phase only; log scale; median of n runs, min-max bars.)
load 'plots/style.gp'
set title "Throughput per approach (MB/s = 10^6 B/s; native runs; higher is better)"
set ylabel "MB/s (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
