# thesis-first-workers.gp - first-chunk latency vs background pull workers, per approach and RTT.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] first-chunk latency vs pull workers (requests in flight; ms, log)" noenhanced
set xlabel "pull workers (log)" noenhanced
set ylabel "ms (log)" noenhanced
set logscale x 2
set logscale y
PLOT = PLOT_LINES
@RENDER
