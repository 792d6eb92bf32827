# delta-migrate.gp - pre-copy migration downtime vs link profile (writer at 200 Mbit/s on a 5 % hot set).
load 'plots/style.gp'
set title "delta: pre-copy migration downtime (ms; lower is better)"
set ylabel "ms"
set yrange [0:*]
@BARS
PLOT = PLOT_BARS
@RENDER
