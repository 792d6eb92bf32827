# uffd-threads.gp - uffd throughput vs number of fault handler threads.
load 'plots/style.gp'
set title "uffd: throughput vs handler threads"
set xlabel "handler threads"
set ylabel "MB/s"
PLOT = PLOT_LINES
@RENDER
