# nbd-first.gp - first-access latency vs RTT, nbd direct/managed and the others (same lab, same bench).
load 'plots/style.gp'
set title "nbd: first access vs RTT (ms; lab in brackets: vm-tcg figures compare only with each other)"
set xlabel "RTT (ms)"
set ylabel "ms"
set yrange [0:*]
set style data histograms
set style histogram cluster gap 1
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
