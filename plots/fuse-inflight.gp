# fuse-inflight.gp - managed mount: sequential read vs pull requests in flight.
load 'plots/style.gp'
set title "fuse managed: sequential read vs background pull requests in flight"
set xlabel "requests in flight (log)"
set ylabel "MB/s"
set logscale x 2
PLOT = PLOT_LINES
@RENDER
