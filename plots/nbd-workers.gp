# nbd-workers.gp - managed mount vs background pull requests in flight (20 ms RTT, 100 Mbit/s).
load 'plots/style.gp'
set title "nbd managed: pull requests in flight (20 ms RTT; lab in brackets)"
set xlabel "background pull requests in flight"
set ylabel "MB/s and ms"
set yrange [0:*]
set style data histograms
set style histogram cluster gap 1
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
