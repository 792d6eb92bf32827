# nbd-chunk.gp - chunking local (managed engine) vs remote (server-side), 0 ms RTT, one lab.
load 'plots/style.gp'
load 'plots/nbd-lab.gp'
set title "nbd managed: chunk size, local vs remote chunking (MB/s = 10^6 B/s; ".LAB.")"
set xlabel "chunk size (KiB)"
set ylabel "MB/s"
set yrange [0:*]
@BARS; PLOT = PLOT_BARS
@RENDER
