# uffd-migrate.gp - uffd post-copy migration: downtime (ms, left) and total time (s, right) vs RTT.
load 'plots/style.gp'
set title "uffd: post-copy migration vs RTT"
set xlabel "RTT (ms)"
set ylabel "downtime (ms)"
set y2label "total (s)"
set y2tics
PLOT = "plot datafile using 1:2 title columnhead axes x1y1, datafile using 1:3 title columnhead axes x1y2"
@RENDER
