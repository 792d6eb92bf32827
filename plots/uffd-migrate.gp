# uffd-migrate.gp - uffd post-copy migration: downtime (ms, left) and total time (s, right) vs RTT.
load 'plots/style.gp'
set title "uffd: post-copy migration vs RTT"
set xlabel "RTT (ms)"
set ylabel "downtime (ms)"
set y2label "total (s)"
set y2tics
PLOT = STATS_KEY."; plot datafile using 1:med(1):lo(1):hi(1) with yerrorlines title columnhead(med(1)) axes x1y1, datafile using 1:med(2):lo(2):hi(2) with yerrorlines title columnhead(med(2)) axes x1y2"
@RENDER
