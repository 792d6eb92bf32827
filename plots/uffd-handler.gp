# uffd-handler.gp - uffd throughput with the handler in the local process vs in the workload process.
load 'plots/style.gp'
set title "uffd: handler in the local process vs in the workload process (local link; MB/s = 10^6 B/s)"
set ylabel "MB/s"
@BARS
PLOT = PLOT_BARS
@RENDER
