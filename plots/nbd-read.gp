# nbd-read.gp - sequential read throughput vs RTT, nbd direct/managed and the others (one lab, same bench).
load 'plots/style.gp'
load 'plots/nbd-lab.gp'
set title "nbd: sequential read vs RTT (MB/s = 10^6 B/s; ".LAB.")"
set xlabel "RTT (ms)"
set ylabel "MB/s"
set yrange [0:*]
@BARS; PLOT = PLOT_BARS
@RENDER
