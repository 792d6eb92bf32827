# fuse-prefetch.gp - prefetch off vs kernel readahead vs notify_store, both mount styles.
load 'plots/style.gp'
set title "fuse: prefetch off / readahead / notify_store (median MB/s, every byte verified)"
set ylabel "MB/s"
set style data histograms
set style histogram cluster gap 1
set xtics rotate by -30 left
PLOT = "plot for [c=2:*] datafile using c:xtic(1) title columnhead"
@RENDER
