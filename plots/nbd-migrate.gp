# nbd-migrate.gp - two-phase migration downtime vs RTT and writer rate.
load 'plots/style.gp'
set title "nbd: two-phase migration downtime vs RTT (ms; lab in brackets)"
set xlabel "RTT (ms)"
set ylabel "ms"
set yrange [0:*]
set style data histograms
set style histogram cluster gap 1
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
