# thesis-device-start.gp - nbd device start time, readiness by sysfs polling vs uevents, netlink and ioctl attach (VM lab).
load 'plots/style.gp'
if (!exists("lab")) lab = "vm-tcg"
set title "[".lab."] nbd device start time: sysfs polling vs uevents (ms)" noenhanced
set xlabel "readiness detection" noenhanced
set ylabel "ms" noenhanced
set yrange [0:*]
@BARS
PLOT = PLOT_BARS
@RENDER
