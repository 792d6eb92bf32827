# uffd-chunk.gp - uffd read throughput vs fault-around chunk size (no prefetch, local link).
load 'plots/style.gp'
set title "uffd: throughput vs chunk size (fault-around, no prefetch, local)"
set xlabel "chunk (KiB, log)"
set ylabel "MB/s (log)"
set logscale xy 2
PLOT = PLOT_LINES
@RENDER
