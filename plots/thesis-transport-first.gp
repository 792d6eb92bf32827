# thesis-transport-first.gp - first-chunk latency (one 4 KiB read) per NBD transport and profile.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] transport: first chunk, one 4 KiB read on an open connection (ms, log)" noenhanced
set ylabel "ms (log)" noenhanced
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
