# nbd-start.gp - device start time, readiness by sysfs polling vs kernel uevents.
load 'plots/style.gp'
set title "nbd: device start time, polling vs uevents (ms; lab in brackets)"
set ylabel "ms"
set yrange [0:*]
set style data histograms
set style histogram cluster gap 1
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
