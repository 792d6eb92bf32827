# chunking-time.gp - chunking strategies: seconds to sync a file pair per profile.
load 'plots/style.gp'
set title "chunking strategies: time to bring the old copy up to date (seconds, log; lower is better)"
set ylabel "seconds (log)"
set logscale y
set style data histograms
set style histogram cluster gap 1
set xtics rotate by -30 left
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
