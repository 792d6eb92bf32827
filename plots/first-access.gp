# first-access.gp - latency of the very first access of each scenario, native runs only (us, log scale; VM-lab runs: the nbd-* figures).
load 'plots/style.gp'
set title "First-access latency (us; native runs; lower is better)"
set ylabel "us (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
