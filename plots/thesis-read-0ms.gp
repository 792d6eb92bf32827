# thesis-read-0ms.gp - sequential read throughput at 0 ms per approach, loopback (--netem none) next to the emulated link.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] sequential read at 0 ms (MB/s = 10^6 B/s, log; every byte verified)" noenhanced
set ylabel "MB/s (log)" noenhanced
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
