# backends-first.gp - first-chunk latency per backend (memory, file, dir, redis, http, nbdkit) and profile (median of n runs, min-max bars).
load 'plots/style.gp'
set title "backends: first-chunk latency (one 1 MiB read; lower is better; log scale)"
set ylabel "ms"
set logscale y 10
set yrange [*:*]
@BARS; PLOT = PLOT_BARS
@RENDER
