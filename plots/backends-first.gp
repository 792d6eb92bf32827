# backends-first.gp - first-chunk latency per backend (memory, file, dir, redis, http, nbdkit) and profile.
load 'plots/style.gp'
set title "backends: first-chunk latency (one 1 MiB read, median; lower is better; log scale)"
set ylabel "ms"
set logscale y 10
set yrange [*:*]
set style data histograms
set style histogram cluster gap 1
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
