# delta-rsync.gp - delta vs rsync: seconds to sync the same file with the same changes over the same link.
load 'plots/style.gp'
set title "delta vs rsync: time to sync a change set (seconds, log; lower is better)"
set ylabel "seconds (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
