# delta-cycles.gp - one sync cycle after a write workload: hashing every chunk vs kernel dirty tracking.
load 'plots/style.gp'
set title "delta: sync() cycle time, dirty=hash vs dirty=pagemap (ms, log; lower is better)"
set ylabel "ms (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
