# chunking-wire.gp - chunking strategies: bytes on the link to sync a file pair.
load 'plots/style.gp'
set title "chunking strategies: bytes on the link to bring the old copy up to date (MB = 10^6 B, log; lower is better)"
set ylabel "MB on the wire (log)"
set logscale y
set style data histograms
set style histogram cluster gap 1
set xtics rotate by -30 left
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
