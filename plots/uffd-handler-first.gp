# uffd-handler-first.gp - uffd first-access latency per handler mode and profile.
load 'plots/style.gp'
set title "uffd: first-access latency, handler in the local vs the workload process (ms, log)"
set ylabel "ms (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
