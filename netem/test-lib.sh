# netem/test-lib.sh - checks shared by tests/test-netem-user.sh and
# tests/test-netem-tc.sh (source after tests/functions.sh). Each check brings
# a topology up with `memsync-net up`, measures, and tears it down.
#
#   netem_profile NAME TEXT      write a profile file, print its path
#   netem_up PROFILE DRIVER [N]  bring up N hosts (eval'd MEMSYNC_NET_* vars)
#   netem_down                   tear down, assert nothing is left
#   netem_rtt_ms FROM TO         minimum TCP echo RTT between two hosts, in ms
#                                (the minimum: other jobs on the machine inflate the average)
#   netem_iperf_mbit FROM TO S   iperf3 TCP throughput for S seconds, Mbit/s
#   in_range VALUE LO HI         true when LO <= VALUE <= HI
#   netem_counter JSON DIR FIELD a field of `memsync-net counters` output
#   netem_check_fast_path DRIVER an unshaped profile is a plain veth pair

NETEM_STATE=$TMPDIR_TEST/net.state

# Write a profile file with the given body.
netem_profile() {
	printf 'description = test profile %s\n%s\n' "$1" "$2" > "$TMPDIR_TEST/$1.conf"
	echo "$TMPDIR_TEST/$1.conf"
}

# Tear down whatever is up (registered as a cleanup).
_netem_cleanup() {
	[ -f "$NETEM_STATE" ] && memsync-net down --state "$NETEM_STATE" >/dev/null 2>&1
	[ -n "${_netem_iperf_pids:-}" ] && kill $_netem_iperf_pids 2>/dev/null
	return 0
}
cleanup_fn _netem_cleanup

# Bring up a topology and import its variables.
netem_up() {
	local out
	out=$(memsync-net up --profile "$1" --driver "$2" --hosts "${3:-2}" --state "$NETEM_STATE") ||
		fail "memsync-net up --profile $1 --driver $2 failed"
	eval "$out"
	[ "$MEMSYNC_NET_DRIVER" = "$2" ] || fail "driver $MEMSYNC_NET_DRIVER, wanted $2"
}

# Tear down and check that no namespace, emulator process or counters page is left.
netem_down() {
	local pid
	pid=$(sed -n 's/^pid = //p' "$NETEM_STATE")
	memsync-net down --state "$NETEM_STATE" || fail "memsync-net down failed"
	[ ! -e "$NETEM_STATE" ] || fail "state file left behind"
	if ip netns list | grep -q "^ms$pid-"; then fail "namespaces left: $(ip netns list | grep "^ms$pid-")"; fi
	[ ! -e "/dev/shm/ms$pid-link" ] || fail "counters page /dev/shm/ms$pid-link left"
	[ ! -d "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status" || fail "topology process $pid still running"
	local children
	children=$(pgrep -P "$pid" 2>/dev/null || true)
	[ -z "$children" ] || fail "processes left: $children"
}

# Host i's netns variable.
_netns_of() { eval echo "\$MEMSYNC_NET_H$1_NETNS"; }
_addr_of() { eval echo "\$MEMSYNC_NET_H$1_ADDR"; }

# Minimum RTT over 20 TCP echo round trips from host $1 to host $2.
netem_rtt_ms() {
	local port=$((7000 + RANDOM % 1000)) out
	ip netns exec "$(_netns_of "$2")" memsync-net echo --listen "$(_addr_of "$2"):$port" --once &
	local epid=$!
	out=$(ip netns exec "$(_netns_of "$1")" memsync-net rtt "$(_addr_of "$2"):$port" --count 20) ||
		fail "rtt probe failed"
	wait $epid
	echo "$out" >&2
	echo "$out" | sed -n 's/.*min=\([0-9.]*\).*/\1/p'
}

# TCP throughput in Mbit/s (receiver side) from host $1 to host $2.
netem_iperf_mbit() {
	local port=$((5201 + RANDOM % 1000)) json
	ip netns exec "$(_netns_of "$2")" iperf3 -s -1 -B "$(_addr_of "$2")" -p $port >/dev/null 2>&1 &
	_netem_iperf_pids=$!
	sleep 0.5
	json=$(ip netns exec "$(_netns_of "$1")" iperf3 -c "$(_addr_of "$2")" -p $port -t "$3" -J) || fail "iperf3 failed: $json"
	wait $_netem_iperf_pids
	_netem_iperf_pids=
	echo "$json" | tr -d ' \t\n' | sed -n 's/.*"sum_received":{[^}]*"bits_per_second":\([0-9.e+]*\).*/\1/p' |
		awk '{ printf "%.1f\n", $1 / 1e6 }'
}

# LO <= VALUE <= HI (decimals allowed).
in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }'; }

# FIELD (bytes, packets, drops) of direction DIR (host0_to_others, others_to_host0) in counters JSON.
netem_counter() {
	echo "$1" | sed -n "s/.*\"$2\":{[^}]*\"$3\":\([0-9]*\).*/\1/p"
}

# An unshaped profile (no delay, rate limit or loss) is a plain veth pair in
# DRIVER: veth devices, no qdisc, GSO on, no emulator process, loopback-like RTT.
netem_check_fast_path() {
	local drv=$1 p0 pid out rtt c
	p0=$(netem_profile unshaped $'delay = 0\nrate = unlimited\nloss = 0%')
	netem_up "$p0" "$drv" 3
	pid=$(sed -n 's/^pid = //p' "$NETEM_STATE")
	out=$(ip -n "$MEMSYNC_NET_H0_NETNS" -d link show v1 2>/dev/null)
	echo "$out" | grep -q 'veth' || fail "$drv: unshaped profile: v1 is no veth: $out"
	echo "$out" | grep -q 'gso_max_segs 1 ' && fail "$drv: unshaped profile: GSO is off on v1"
	out=$(tc -n "$MEMSYNC_NET_H0_NETNS" qdisc show dev v1)
	echo "$out" | grep -q 'noqueue' || fail "$drv: unshaped profile: a qdisc on v1: $out"
	[ -z "$(pgrep -P "$pid" 2>/dev/null)" ] || fail "$drv: unshaped profile: processes under $pid: $(pgrep -l -P "$pid")"
	[ ! -e "/dev/shm/ms$pid-link" ] || fail "$drv: unshaped profile: an emulator counters page exists"
	rtt=$(netem_rtt_ms 0 2)
	in_range "$rtt" 0 "${FAST_RTT_MAX:-1}" || fail "$drv: unshaped profile: RTT $rtt ms"
	c=$(memsync-net counters --state "$NETEM_STATE") || fail "counters failed"
	in_range "$(netem_counter "$c" host0_to_others packets)" 20 1e12 || fail "$drv: unshaped profile: counters $c"
	echo "ok: $drv: unshaped profile is plain veth (RTT $rtt ms, no qdisc, no emulator)" >&2
	netem_down
}

# The whole driver check: RTT, rate, loss, counters, 3 hosts, teardown.
# RATE_LO/RATE_HI (fractions of the rate) and FAST_RTT_MAX (ms, an unshaped
# link's RTT) may be widened by the caller.
netem_check_driver() {
	local drv=$1 rtt mbit c
	local p20 prate ploss
	p20=$(netem_profile rtt20 $'delay = 10ms\nrate = unlimited')
	prate=$(netem_profile rate100 $'delay = 1ms\nrate = 100mbit')
	ploss=$(netem_profile loss5 $'delay = 1ms\nrate = 1gbit\nloss = 5%')

	netem_up "$p20" "$drv"
	rtt=$(netem_rtt_ms 0 1)
	in_range "$rtt" 19 25 || fail "$drv: RTT $rtt ms with delay 10ms (wanted 19-25)"
	echo "ok: $drv: 20 ms profile RTT $rtt ms" >&2
	netem_down

	netem_up "$prate" "$drv"
	mbit=$(netem_iperf_mbit 0 1 3)
	in_range "$mbit" "${RATE_LO:-80}" "${RATE_HI:-105}" || fail "$drv: $mbit Mbit/s through a 100mbit link"
	echo "ok: $drv: 100mbit profile carries $mbit Mbit/s" >&2
	c=$(memsync-net counters --state "$NETEM_STATE") || fail "counters failed"
	echo "$c" >&2
	local bytes0
	bytes0=$(netem_counter "$c" host0_to_others bytes)
	in_range "$bytes0" 10000000 1e12 || fail "$drv: counters show $bytes0 bytes after the transfer"
	netem_down

	netem_up "$ploss" "$drv"
	netem_iperf_mbit 0 1 2 >/dev/null
	c=$(memsync-net counters --state "$NETEM_STATE") || fail "counters failed"
	echo "$c" >&2
	local drops pkts
	drops=$(netem_counter "$c" host0_to_others drops)
	pkts=$(netem_counter "$c" host0_to_others packets)
	in_range "$drops" 1 1e12 || fail "$drv: 5% loss profile dropped nothing ($c)"
	echo "ok: $drv: 5% loss profile dropped $drops of $((pkts + drops)) packets" >&2
	netem_down

	netem_up "$p20" "$drv" 3
	rtt=$(netem_rtt_ms 1 2)
	in_range "$rtt" 19 25 || fail "$drv: RTT $rtt ms between hosts 1 and 2 (wanted 19-25)"
	rtt=$(netem_rtt_ms 2 0)
	in_range "$rtt" 19 25 || fail "$drv: RTT $rtt ms between hosts 2 and 0 (wanted 19-25)"
	echo "ok: $drv: 3 hosts, every pair at 2 x delay" >&2
	netem_down

	netem_check_fast_path "$drv"
}
