# uffd-handler-first.gp - uffd first-access latency (p50) per handler mode and profile.
load 'plots/style.gp'
set title "uffd: first-access latency (p50), handler in the local vs the workload process"
set ylabel "ms (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
