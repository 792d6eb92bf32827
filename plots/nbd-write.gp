# nbd-write.gp - sequential write throughput with sync vs RTT, direct and managed (same lab, same bench).
load 'plots/style.gp'
set title "nbd: sequential write incl. sync vs RTT (MB/s = 10^6 B/s; lab in brackets: vm-tcg figures compare only with each other)"
set xlabel "RTT (ms)"
set ylabel "MB/s"
set yrange [0:*]
set style data histograms
set style histogram cluster gap 1
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
