# thesis-backends.gp - random 1 MiB read throughput vs pull workers per remote backend and profile (harness/bench/backends.sh).
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] backends: random 1 MiB reads vs pull workers (MB/s = 10^6 B/s, log)" noenhanced
set xlabel "pull workers" noenhanced
set ylabel "MB/s (log)" noenhanced
set logscale x 2
set logscale y
PLOT = PLOT_LINES
@RENDER
