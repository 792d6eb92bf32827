# backends-throughput.gp - read throughput per backend and profile vs pull workers.
# Columns come in backend pairs (local, wan: see the .jq): colour per backend, dash per profile.
load 'plots/style.gp'
set title "backends: random 1 MiB read throughput vs pull workers (MB/s = 10^6 B/s; log scale)"
set xlabel "pull workers (requests in flight)"
set ylabel "MB/s"
set logscale x 2
set logscale y 10
PLOT = "plot for [c=2:*] datafile using 1:c title columnhead lc int((c - 2) / 2) + 1 dt 1 + c % 2"
@RENDER
