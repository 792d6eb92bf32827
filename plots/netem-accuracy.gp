# netem-accuracy.gp - measured/target RTT and TCP throughput per profile and link driver.
load 'plots/style.gp'
set title "Link emulation: measured / target (1 = exact; RTT with +0.2 ms allowance; TCP vs rate)"
@BARS
set boxwidth 0.9
set xtics norotate
set ylabel "measured / target"
set logscale y
set yrange [0.1:*]
PLOT = PLOT_BARS.", 1 with lines lc rgb '#444444' dt 2 notitle"
@RENDER
