# harness/bench/hosts.sh - the server and client hosts of a bench that runs
# NBD servers on one host and clients on the other (remote.sh, backends.sh).
# Not a bench itself (no "# summary:" line). Source it after functions.sh;
# the caller sets server_ns and client_ns (network namespaces from
# memsync-net, or empty for this host) and owns the array pids.
#
#   on_client CMD...      run CMD on the client host
#   spawn_server CMD...   start CMD in the background on the server host; its
#                         pid (the command itself: ip netns exec execs) goes to pids
#   stop_servers          kill every pid in pids, wait for those (only), empty pids
#   wait_ready URI        wait (up to 15 s) until an NBD server answers at URI
#   median                the median of the numbers on stdin (0 if none)
#   hosts_up PROFILE      local: this host, addr 127.0.0.1; any other profile:
#                         memsync-net's emulated link (state file $state), server
#                         on host 0 (server_ns, addr), client on host 1 (client_ns)
#   hosts_down            take the emulated link down, if up
pids=()

# The hosts of a profile: sets server_ns, client_ns and addr (the server's address).
hosts_up() {
	local up
	server_ns= client_ns= addr=127.0.0.1
	[ "$1" != local ] || return 0
	up=$("$MEMSYNC_BUILD/memsync-net" up --profile "$1" --state "$state")
	eval "$up"
	server_ns=$MEMSYNC_NET_H0_NETNS client_ns=$MEMSYNC_NET_H1_NETNS addr=$MEMSYNC_NET_H0_ADDR
	echo "$bench_name bench: profile $1: driver $MEMSYNC_NET_DRIVER, server $addr" >&2
}

# Take down what hosts_up made.
hosts_down() { [ ! -f "$state" ] || "$MEMSYNC_BUILD/memsync-net" down --state "$state" >/dev/null 2>&1 || true; }

# Run a command on the client host (netns) or locally.
on_client() { if [ -n "$client_ns" ]; then ip netns exec "$client_ns" "$@"; else "$@"; fi; }

# Start a server in the background on the server host; its pid goes to pids.
spawn_server() {
	if [ -n "$server_ns" ]; then ip netns exec "$server_ns" "$@" &
	else "$@" & fi
	pids+=($!)
}

# Stop every server started with spawn_server.
stop_servers() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}

# Wait until an NBD server answers at URI.
wait_ready() {
	local i
	for i in $(seq 300); do
		on_client nbdinfo --size "$1" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "$bench_name bench: no server at $1" >&2
	return 1
}

# Median of numbers on stdin.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
