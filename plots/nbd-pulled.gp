# nbd-pulled.gp - data pulled before the device is ready vs pull requests in flight.
load 'plots/style.gp'
set title "nbd managed: data pulled before the device is ready (MiB; lab in brackets)"
set xlabel "background pull requests in flight"
set ylabel "MiB"
set yrange [0:*]
set style data histograms
set style histogram cluster gap 1
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
