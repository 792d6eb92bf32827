# delta-hash.gp - chunk hash throughput per algorithm, chunk size and thread count.
load 'plots/style.gp'
set title "delta: chunk hash throughput (GB/s = 10^9 B/s; higher is better)"
set ylabel "GB/s"
set yrange [0:*]
@BARS
PLOT = PLOT_BARS
@RENDER
