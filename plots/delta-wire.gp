# delta-wire.gp - delta vs rsync: bytes on the link for the same change set.
load 'plots/style.gp'
set title "delta vs rsync: bytes on the link per change set (MB = 10^6 B, log; lower is better)"
set ylabel "MB on the wire (log)"
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
