# chunking-time.gp - chunking strategies: seconds to sync a file pair per profile (median of n runs, min-max bars).
load 'plots/style.gp'
set title "chunking strategies: time to bring the old copy up to date (seconds, log; lower is better)"
set ylabel "seconds (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
