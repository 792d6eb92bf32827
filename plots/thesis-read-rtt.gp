# thesis-read-rtt.gp - sequential read throughput vs RTT per approach.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] sequential read vs RTT (MB/s = 10^6 B/s, log)" noenhanced
set xlabel "RTT (ms)" noenhanced
set ylabel "MB/s (log)" noenhanced
set logscale y
PLOT = PLOT_LINES
@RENDER
