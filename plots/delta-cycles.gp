# delta-cycles.gp - one sync cycle after a write workload: hashing every chunk vs kernel dirty tracking.
load 'plots/style.gp'
set title "delta: sync() cycle time, dirty=hash vs dirty=pagemap (ms, log; lower is better)"
set ylabel "ms (log)"
set logscale y
set style data histograms
set style histogram cluster gap 1
set xtics rotate by -30 left
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
