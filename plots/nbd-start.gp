# nbd-start.gp - device start time, readiness by sysfs polling vs kernel uevents (one lab).
load 'plots/style.gp'
load 'plots/nbd-lab.gp'
set title "nbd: device start time, polling vs uevents (ms; ".LAB.")"
set ylabel "ms"
set yrange [0:*]
@BARS; PLOT = PLOT_BARS
@RENDER
