# fuse-prefetch.gp - prefetch off vs kernel readahead vs notify_store, both mount styles.
load 'plots/style.gp'
set title "fuse: prefetch off / readahead / notify_store (every byte verified)" noenhanced
set ylabel "MB/s"
@BARS
PLOT = PLOT_BARS
@RENDER
