# thesis-backends-first.gp - first-chunk latency (one 1 MiB read) per remote backend and profile (harness/bench/backends.sh).
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] backends: first chunk, one 1 MiB read (ms, log)" noenhanced
set ylabel "ms (log)" noenhanced
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
