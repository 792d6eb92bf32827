# thesis-write-rtt.gp - sequential write throughput including the final sync to the remote vs RTT.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] sequential write incl. the final sync vs RTT (MB/s = 10^6 B/s, log)" noenhanced
set xlabel "RTT (ms)" noenhanced
set ylabel "MB/s (log)" noenhanced
set logscale y
PLOT = PLOT_LINES
@RENDER
