# thesis-transport.gp - read throughput per NBD transport: TCP, TLS with PSK, TLS with X.509, UNIX socket, nbdkit over TCP.
load 'plots/style.gp'
if (!exists("lab")) lab = "native"
set title "[".lab."] transport: read MB/s per transport (seq 1 MiB and rand 4 KiB, 16 in flight; log)" noenhanced
set ylabel "MB/s (log)" noenhanced
set logscale y
@BARS
PLOT = PLOT_BARS
@RENDER
