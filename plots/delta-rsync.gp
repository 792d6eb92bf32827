# delta-rsync.gp - delta vs rsync: seconds to sync the same file with the same changes over the same link.
load 'plots/style.gp'
set title "delta vs rsync: time to sync a change set (seconds, log; lower is better)"
set ylabel "seconds (log)"
set logscale y
set style data histograms
set style histogram cluster gap 1
set xtics rotate by -30 left
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
