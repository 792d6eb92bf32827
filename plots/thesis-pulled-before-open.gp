# thesis-pulled-before-open.gp - nbd managed: data pulled before the device is ready vs pull workers, per RTT (VM lab).
load 'plots/style.gp'
if (!exists("lab")) lab = "vm-tcg"
set title "[".lab."] nbd managed: data pulled before the device is ready (MiB)" noenhanced
set xlabel "pull workers (log)" noenhanced
set ylabel "MiB" noenhanced
set logscale x 2
set yrange [0:*]
PLOT = PLOT_LINES
@RENDER
