# chunking-wire.gp - chunking strategies: bytes on the link to sync a file pair (median of the transfers at every profile, min-max bars).
load 'plots/style.gp'
set title "chunking strategies: bytes on the link to bring the old copy up to date (MB = 10^6 B, log; lower is better)"
set ylabel "MB on the wire (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
