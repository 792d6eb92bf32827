# thesis-first-0ms.gp - first-chunk latency at 0 ms per approach, at loopback (--netem none) next to the emulated link (rtt-0ms).
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] first-chunk latency at 0 ms: one 4 KiB read (us, log; every byte verified)" noenhanced
set ylabel "us (log)" noenhanced
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
