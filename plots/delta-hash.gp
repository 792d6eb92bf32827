# delta-hash.gp - chunk hash throughput per algorithm, chunk size and thread count.
load 'plots/style.gp'
set title "delta: chunk hash throughput (GB/s = 10^9 B/s; higher is better)"
set ylabel "GB/s"
set yrange [0:*]
set style data histograms
set style histogram cluster gap 1
set xtics rotate by -30 left
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
