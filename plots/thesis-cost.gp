# thesis-cost.gp - CPU seconds per GiB moved per approach (all processes: workload, local, remote).
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] CPU seconds per GiB moved (log; lower is better)" noenhanced
set ylabel "s per GiB (log)" noenhanced
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
