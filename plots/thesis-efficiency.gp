# thesis-efficiency.gp - measured time over the link limit (RTT + size/rate) per approach and rate-limited profile; 1 = at the limit.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] measured time / link limit (RTT + size/rate); 1 = at the limit" noenhanced
set ylabel "time / limit" noenhanced
set yrange [0:*]
@BARS
PLOT = PLOT_BARS
@RENDER
