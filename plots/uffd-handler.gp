# uffd-handler.gp - uffd throughput with the handler in the local process vs in the workload process.
load 'plots/style.gp'
set title "uffd: handler in the local process vs in the workload process (local link; MB/s = 10^6 B/s)"
set ylabel "MB/s"
set style data histograms
set style histogram cluster gap 1
set xtics rotate by -30 left
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
