# thesis-transport.jq - read throughput per NBD transport: TCP, TLS with PSK, TLS with X.509, UNIX socket, nbdkit over TCP (stats.jq; records of harness/bench/thesis.sh, lab native).
include "thesis-lib"; transport("native")
