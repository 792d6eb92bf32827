# thesis-read-workers.gp - sequential read throughput vs background pull workers, per approach and RTT.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] sequential read vs pull workers (MB/s = 10^6 B/s, log)" noenhanced
set xlabel "pull workers (log)" noenhanced
set ylabel "MB/s (log)" noenhanced
set logscale x 2
set logscale y
PLOT = PLOT_LINES
@RENDER
