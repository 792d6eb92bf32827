# first-access.gp - latency of the very first access of each scenario (us, log scale).
load 'plots/style.gp'
set title "First-access latency (us; lower is better)"
set ylabel "us (log)"
set logscale y
set style data histograms
set style histogram cluster gap 1
set xtics rotate by -30 left

PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
