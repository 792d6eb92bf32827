# uffd-threads.gp - uffd throughput vs number of fault handler threads.
load 'plots/style.gp'
set title "uffd: throughput vs handler threads"
set xlabel "handler threads"
set ylabel "MB/s"
PLOT = "plot for [c=2:4] datafile using 1:c title columnhead"
@RENDER
