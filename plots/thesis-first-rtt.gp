# thesis-first-rtt.gp - first-chunk latency vs RTT per approach.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] first-chunk latency vs RTT: one 4 KiB read (ms, log)" noenhanced
set xlabel "RTT (ms)" noenhanced
set ylabel "ms (log)" noenhanced
set logscale y
PLOT = PLOT_LINES
@RENDER
