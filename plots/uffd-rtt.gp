# uffd-rtt.gp - uffd sequential read throughput vs RTT, demand only vs prefetch.
load 'plots/style.gp'
set title "uffd: sequential read vs RTT (MB/s = 10^6 B/s, every byte verified)"
set xlabel "RTT (ms)"
set ylabel "MB/s (log)"
set logscale y
PLOT = PLOT_LINES
@RENDER
