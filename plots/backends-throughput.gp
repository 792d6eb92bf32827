# backends-throughput.gp - read throughput per backend and profile vs pull workers.
load 'plots/style.gp'
set title "backends: random 1 MiB read throughput vs pull workers (MB/s = 10^6 B/s)"
set xlabel "pull workers (requests in flight)"
set ylabel "MB/s"
set yrange [0:*]
set logscale x 2
PLOT = "plot for [c=2:*] datafile using 1:c title columnhead"
@RENDER
