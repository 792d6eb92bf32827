# backends-throughput.gp - read throughput per backend and profile vs pull workers (median of n runs, min-max bars).
# Series come in backend pairs (local, wan: see the .jq): colour per backend, dash per profile.
load 'plots/style.gp'
set title "backends: random 1 MiB read throughput vs pull workers (MB/s = 10^6 B/s; log scale)"
set xlabel "pull workers (requests in flight)"
set ylabel "MB/s"
set logscale x 2
set logscale y 10
PLOT = STATS_KEY."; plot for [i=1:nseries] datafile using 1:med(i):lo(i):hi(i) with yerrorlines title columnhead(med(i)) lc (i - 1) / 2 + 1 dt 1 + (i - 1) % 2"
@RENDER
