# nbd-workers.gp - managed mount vs background pull requests in flight (20 ms RTT, 100 Mbit/s; one lab).
load 'plots/style.gp'
load 'plots/nbd-lab.gp'
set title "nbd managed: pull requests in flight (20 ms RTT; ".LAB.")"
set xlabel "background pull requests in flight"
set ylabel "MB/s and ms"
set yrange [0:*]
@BARS; PLOT = PLOT_BARS
@RENDER
