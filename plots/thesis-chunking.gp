# thesis-chunking.gp - read throughput vs chunk size, chunking on the local side (engine chunk) vs the remote side (server_chunk).
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] chunk size: local (engine chunk) vs remote (server_chunk), seq-read, no prefetch (MB/s, log)" noenhanced
set xlabel "chunk (KiB, log)" noenhanced
set ylabel "MB/s (log)" noenhanced
set logscale x 2
set logscale y
PLOT = PLOT_LINES
@RENDER
