# nbd-write.gp - sequential write throughput with sync vs RTT, direct and managed (one lab, same bench).
load 'plots/style.gp'
load 'plots/nbd-lab.gp'
set title "nbd: sequential write incl. sync vs RTT (MB/s = 10^6 B/s; ".LAB.")"
set xlabel "RTT (ms)"
set ylabel "MB/s"
set yrange [0:*]
@BARS; PLOT = PLOT_BARS
@RENDER
