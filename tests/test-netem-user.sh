#!/bin/bash
# test-netem-user.sh - the userspace link emulator (driver user), natively:
# a 20 ms profile gives a 19-25 ms RTT, a 100mbit profile carries 80-105
# Mbit/s, a loss profile drops packets, counters count, three hosts are
# pairwise at 2 x delay, an unshaped profile is a plain veth pair, and
# teardown leaves no namespace or process. Then what is particular to the
# emulator: one thread per direction, GSO super-packets across loss-free
# links (MTU-sized packets where loss applies), and no CPU burnt while
# packets wait out their delay.
. "$(dirname "$0")/functions.sh"
requires_root
requires ip iperf3 pgrep
[ -x "$MEMSYNC_BUILD/memsync-net" ] || fail "memsync-net not built in $MEMSYNC_BUILD"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
. "$MEMSYNC_SRC/netem/test-lib.sh"

netem_check_driver user

# The emulator process of the topology on $NETEM_STATE.
emulator_pid() {
	local pid
	pid=$(sed -n 's/^pid = //p' "$NETEM_STATE")
	pgrep -P "$pid" -x memsync-link || fail "no link emulator under pid $pid"
}

# Frames the kernel handed to the emulator on host 0's device v1 (TUN tx packets).
tun_frames() {
	ip netns exec "$MEMSYNC_NET_H0_NETNS" cat /proc/net/dev | awk -F'[: ]+' '$2 == "v1" { print $12 }'
}

# CPU seconds (user + system) of process $1.
cpu_s() {
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# One thread per direction: 3 hosts, 6 directions.
netem_up "$(netem_profile d1 $'delay = 1ms')" user 3
emu=$(emulator_pid)
threads=$(ls "/proc/$emu/task" | wc -l)
[ "$threads" = 7 ] || fail "emulator has $threads threads, wanted 6 directions + 1"
echo "ok: user: one thread per direction ($((threads - 1)) for 3 hosts)" >&2
netem_down

# Bring up profile BODY, run iperf3 for 2 s, print "frames packets drops" of
# host 0 -> host 1 (frames: what the kernel handed the emulator).
frames_packets() {
	local f0 c
	netem_up "$(netem_profile "$1" "$2")" user
	f0=$(tun_frames)
	netem_iperf_mbit 0 1 2 >/dev/null
	c=$(memsync-net counters --state "$NETEM_STATE") || fail "counters failed"
	echo "$(($(tun_frames) - f0)) $(netem_counter "$c" host0_to_others packets) $(netem_counter "$c" host0_to_others drops)"
	netem_down
}

# Loss-free: TCP's super-packets cross whole (fewer frames than wire packets).
out=$(frames_packets gso $'delay = 1ms\nrate = 1gbit')
read -r frames pkts drops <<< "$out"
in_range "$pkts" $((2 * frames)) 1e12 || fail "user: loss-free link: $frames frames for $pkts packets (no GSO?)"
echo "ok: user: loss-free link carries super-packets ($frames frames for $pkts packets)" >&2

# With loss: one frame per packet, so that loss stays per packet.
out=$(frames_packets lossgso $'delay = 1ms\nrate = 1gbit\nloss = 0.1%')
read -r frames pkts drops <<< "$out"
in_range "$frames" $(((pkts + drops) * 95 / 100)) $(((pkts + drops) * 105 / 100 + 50)) ||
	fail "user: loss link: $frames frames for $((pkts + drops)) packets (super-packets where loss applies?)"
echo "ok: user: loss link carries single packets ($frames frames, $((pkts + drops)) packets)" >&2

# Waiting is sleeping: 200 round trips over a 20 ms RTT keep the emulator below 10 % of a core.
netem_up "$(netem_profile idle $'delay = 10ms')" user
emu=$(emulator_pid)
cpu0=$(cpu_s "$emu") t0=$(date +%s.%N)
port=$((7000 + RANDOM % 1000))
ip netns exec "$MEMSYNC_NET_H1_NETNS" memsync-net echo --listen "$MEMSYNC_NET_H1_ADDR:$port" --once &
ip netns exec "$MEMSYNC_NET_H0_NETNS" memsync-net rtt "$MEMSYNC_NET_H1_ADDR:$port" --count 200 >&2 || fail "rtt failed"
wait
share=$(awk -v c0="$cpu0" -v c1="$(cpu_s "$emu")" -v t0="$t0" -v t1="$(date +%s.%N)" \
	'BEGIN { printf "%.3f", (c1 - c0) / (t1 - t0) }')
in_range "$share" 0 0.10 || fail "user: the emulator used $share of a core while packets waited"
echo "ok: user: emulator used $share of a core over 200 round trips at 20 ms" >&2
netem_down
