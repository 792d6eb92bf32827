# thesis-migration-rate.gp - migration downtime vs the writer's rate at 20 ms RTT, per approach.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] migration downtime vs writer rate at 20 ms RTT (ms, log)" noenhanced
set xlabel "writer (Mbit/s)" noenhanced
set ylabel "ms (log)" noenhanced
set logscale y
PLOT = PLOT_LINES
@RENDER
