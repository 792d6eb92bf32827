# nbd-chunk.gp - chunking local (managed engine) vs remote (server-side), 0 ms RTT.
load 'plots/style.gp'
set title "nbd managed: chunk size, local vs remote chunking (MB/s = 10^6 B/s; lab in brackets)"
set xlabel "chunk size"
set ylabel "MB/s"
set yrange [0:*]
set style data histograms
set style histogram cluster gap 1
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
