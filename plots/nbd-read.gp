# nbd-read.gp - sequential read throughput vs RTT, nbd direct/managed and the others (same lab, same bench).
load 'plots/style.gp'
set title "nbd: sequential read vs RTT (MB/s = 10^6 B/s; lab in brackets: vm-tcg figures compare only with each other)"
set xlabel "RTT (ms)"
set ylabel "MB/s"
set yrange [0:*]
set style data histograms
set style histogram cluster gap 1
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
