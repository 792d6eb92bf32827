# nbd-pulled.gp - data pulled before the device is ready vs pull requests in flight (one lab).
load 'plots/style.gp'
load 'plots/nbd-lab.gp'
set title "nbd managed: data pulled before the device is ready (MiB; ".LAB.")"
set xlabel "background pull requests in flight"
set ylabel "MiB"
set yrange [0:*]
@BARS; PLOT = PLOT_BARS
@RENDER
