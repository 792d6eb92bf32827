# thesis-cost-wire.gp - bytes on the emulated wire (both ways) per GiB of region per approach.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] bytes on the wire per GiB of region (MB = 10^6 B, log)" noenhanced
set ylabel "MB per GiB (log)" noenhanced
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
