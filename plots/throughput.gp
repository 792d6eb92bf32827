# throughput.gp - throughput of every approach per workload and profile
# (MB/s = 10^6 bytes/s, workload phase only; log scale).
load 'plots/style.gp'
set title "Throughput per approach (MB/s = 10^6 B/s; higher is better)"
set ylabel "MB/s (log)"
set logscale y
set style data histograms
set style histogram cluster gap 1
set xtics rotate by -30 left

PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
