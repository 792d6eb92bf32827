# delta-migrate.gp - pre-copy migration downtime vs link profile (writer at 200 Mbit/s on a 5 % hot set).
load 'plots/style.gp'
set title "delta: pre-copy migration downtime (ms; lower is better)"
set ylabel "ms"
set yrange [0:*]
set style data histograms
set style histogram cluster gap 1
set xtics rotate by -30 left
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
