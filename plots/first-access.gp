# first-access.gp - latency of the very first access of each scenario (us, log scale).
load 'plots/style.gp'
set title "First-access latency (us; lower is better)"
set ylabel "us (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
