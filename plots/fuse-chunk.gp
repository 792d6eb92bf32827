# fuse-chunk.gp - chunking on the local side vs on the remote side (demand reads).
load 'plots/style.gp'
set title "fuse: chunking local (engine chunk) vs remote (server chunk), demand reads"
set xlabel "chunk (KiB, log)"
set ylabel "MB/s"
set logscale x 2
PLOT = PLOT_LINES
@RENDER
