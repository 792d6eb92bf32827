#!/usr/bin/env bash
# summary: link emulation accuracy: measured RTT, TCP throughput and loss vs each profile, per netem driver
# runtime: about 100 minutes (quick: about 6 minutes), two thirds of it the tc driver in the VM lab where the kernel lacks sch_netem
#
# For each available driver (user natively; tc natively when the kernel has
# sch_netem, else inside the VM lab under TCG, where figures are for
# correctness only) and each profile (quick: local, lan, wan, lossy; else
# every profile in netem/profiles), bring up two hosts with memsync-net and
# measure: RTT (iputils ping, else memsync-net's TCP echo), TCP throughput
# (iperf3), loss during an iperf3 -u run: what the link dropped (its counters)
# and what the receiver missed end to end (includes drops of an overloaded
# host). One JSON line per (driver, profile) goes to $MEMSYNC_OUT/netem.jsonl
# with target, measured and pass/fail per target: RTT (average) within 5 % +
# 0.05 ms of the profile's RTT added to the path's own RTT (rtt_ms_base: the
# plain veth pair of the `local` profile, measured once per driver before the
# rounds; netem's delay is likewise added to what the path already takes),
# TCP throughput within 10 % of the rate (rates up to 1 Gbit/s on
# loss-free profiles), link loss within 3 sigma + 0.05 points. Records carry
# the load average: other jobs on the machine inflate RTT and end-to-end loss.
# Every (driver, profile) is measured 5 times (quick: 2), one round over all
# profiles after the other, so a burst of other load does not decide a point.
#
# options: --driver LIST (user,tc; default $MEMSYNC_NETEM unless auto, else both)
#          --profiles LIST  --no-vm (never use the VM lab)
set -euo pipefail
. "$(dirname "$0")/functions.sh"
quick=${MEMSYNC_QUICK:-0}
net=$MEMSYNC_BUILD/memsync-net
out=$MEMSYNC_OUT/netem.jsonl
in_vm=${MEMSYNC_IN_VM:-0}
drivers= profiles= use_vm=1
while [ $# -gt 0 ]; do
	case $1 in
	--driver) drivers=${2//,/ }; shift 2 ;;
	--profiles) profiles=${2//,/ }; shift 2 ;;
	--no-vm) use_vm=0; shift ;;
	*) echo "netem.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
done
for c in ip iperf3 jq; do command -v $c >/dev/null || { echo "netem.sh: needs $c" >&2; exit 1; }; done
[ -x "$net" ] || { echo "netem.sh: $net not built" >&2; exit 1; }
mkdir -p "$MEMSYNC_OUT"
MEMSYNC_OUT=$(cd "$MEMSYNC_OUT" && pwd)
out=$MEMSYNC_OUT/netem.jsonl
if [ -z "$profiles" ]; then
	if [ "$quick" = 1 ]; then profiles="local lan wan lossy"
	else profiles=$("$net" list | awk '{ print $1 }' | tr '\n' ' '); fi
fi
duration=5 pings=50 rep=5
[ "$quick" = 1 ] && duration=3 pings=20 rep=2

# Does this kernel have netem? (the one probe: memsync-net probe)
have_netem() { "$net" probe --driver tc >/dev/null 2>&1; }

# Drivers: --driver, else $MEMSYNC_NETEM (run.sh --netem) unless auto, else both.
# tc runs natively where the kernel has sch_netem, else in the VM lab.
if [ -z "$drivers" ]; then
	case ${MEMSYNC_NETEM:-auto} in
	tc|user) drivers=$MEMSYNC_NETEM ;;
	*) drivers="user tc" ;;
	esac
fi
vm_tc=0
if [[ " $drivers " == *" tc "* ]] && ! have_netem; then
	drivers=$(echo " $drivers " | sed 's/ tc / /g; s/^ *//; s/ *$//')
	if [ $use_vm = 1 ] && [ "$in_vm" = 0 ] && why=$("$MEMSYNC_SRC/harness/vm/vm-available.sh" --prepare); then
		vm_tc=1
	else
		echo "netem.sh: this kernel has no sch_netem and the VM lab cannot run (${why:-disabled}): tc driver not measured" >&2
	fi
fi

state=$(mktemp -u /tmp/memsync-netem-bench.XXXXXX)
cleanup() { [ -f "$state" ] && "$net" down --state "$state" >/dev/null 2>&1; return 0; }
trap cleanup EXIT
trap 'exit 130' INT TERM

rtt_tool=memsync-tcp-echo
ping -V 2>&1 | grep -q iputils && rtt_tool=iputils-ping

# RTT min/avg/max/median in ms from host 0 to host 1, as "min avg max median".
# The link settles first (1 s, then 5 pings left out): the teardown of the
# previous topology runs in kernel workers for a while after `down`, and its
# CPU time shows up as RTT spikes on a 2-core machine.
measure_rtt() {
	if [ $rtt_tool = iputils-ping ]; then
		sleep 1
		ip netns exec "$MEMSYNC_NET_H0_NETNS" ping -q -n -c 5 -i 0.05 "$MEMSYNC_NET_H1_ADDR" >/dev/null || true
		ip netns exec "$MEMSYNC_NET_H0_NETNS" ping -n -c "$pings" -i 0.05 "$MEMSYNC_NET_H1_ADDR" |
			sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' | sort -n |
			awk '{ v[NR] = $1; s += $1 } END { if (NR) printf "%.3f %.3f %.3f %.3f\n", v[1], s / NR, v[NR], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
	else
		ip netns exec "$MEMSYNC_NET_H1_NETNS" "$net" echo --listen "$MEMSYNC_NET_H1_ADDR:7007" --once &
		ip netns exec "$MEMSYNC_NET_H0_NETNS" "$net" rtt "$MEMSYNC_NET_H1_ADDR:7007" --count "$pings" |
			sed -n 's/.*min=\([0-9.]*\) avg=\([0-9.]*\) max=\([0-9.]*\).*/\1 \2 \3/p'
		wait
	fi
}

# Run iperf3 from host 0 to host 1 with extra client args; print its JSON.
iperf() {
	ip netns exec "$MEMSYNC_NET_H1_NETNS" iperf3 -s -1 -B "$MEMSYNC_NET_H1_ADDR" -p 5201 >/dev/null 2>&1 &
	local spid=$! i
	for i in $(seq 50); do
		ip netns exec "$MEMSYNC_NET_H1_NETNS" ss -ltn 2>/dev/null | grep -q ':5201 ' && break
		sleep 0.1
	done
	ip netns exec "$MEMSYNC_NET_H0_NETNS" iperf3 -c "$MEMSYNC_NET_H1_ADDR" -p 5201 -J "$@" || true
	wait $spid || true
}

# One (driver, profile) measurement -> one JSON line.
measure() {
	local drv=$1 prof=$2 up
	up=$("$net" up --profile "$prof" --driver "$drv" --state "$state") || { echo "netem.sh: up $prof/$drv failed" >&2; return 1; }
	eval "$up"
	local check delay_ms rate_bps loss_pct
	check=$("$net" check "$MEMSYNC_SRC/netem/profiles/$prof.conf")
	delay_ms=$(echo "$check" | sed -n 's/.*delay=\([0-9.]*\)ms.*/\1/p')
	rate_bps=$(echo "$check" | sed -n 's/.*rate=\([0-9]*\)bit.*/\1/p')
	loss_pct=$(echo "$check" | sed -n 's/.*loss=\([0-9.e-]*\)%.*/\1/p')
	local rtt tcp udp_rate udp counters
	rtt=$(measure_rtt || true) # no reply at all: recorded as null, and ok.rtt false
	local base=${rtt_base[$drv]:-0}
	[ -n "$rtt" ] || rtt="null null null null"
	tcp=$(iperf -t "$duration" | jq '.end.sum_received.bits_per_second // 0')
	udp_rate=100000000
	[ "$in_vm" = 1 ] && udp_rate=20000000 # an emulated CPU cannot receive more without dropping itself
	[ "$rate_bps" != 0 ] && [ $((rate_bps / 2)) -lt $udp_rate ] && udp_rate=$((rate_bps / 2))
	local before
	before=$("$net" counters --state "$state")
	udp=$(iperf -u -b "$udp_rate" -l 1400 -t 2 | jq -c '{lost: (.end.sum.lost_packets // 0), packets: (.end.sum.packets // 0)}')
	counters=$("$net" counters --state "$state")
	# What the link itself dropped during the UDP test (host 0 -> host 1).
	udp=$(jq -nc --argjson u "$udp" --argjson a "$before" --argjson b "$counters" \
		'($b.host0_to_others.drops - $a.host0_to_others.drops) as $d |
		 ($b.host0_to_others.packets - $a.host0_to_others.packets) as $p |
		 $u + {link_drops: $d, link_packets: $p}')
	local cc
	cc=$(ip netns exec "$MEMSYNC_NET_H0_NETNS" cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null || echo unknown)
	"$net" down --state "$state"
	set -- $rtt
	jq -nc --arg drv "$drv" --arg prof "$prof" --argjson vm "$in_vm" --arg tool "$rtt_tool" \
		--argjson delay_ms "$delay_ms" --argjson rate "$rate_bps" --argjson loss "$loss_pct" \
		--argjson rmin "${1:-null}" --argjson ravg "${2:-null}" --argjson rmax "${3:-null}" --argjson rmed "${4:-null}" --argjson base "$base" \
		--argjson tcp "$tcp" --argjson udp "$udp" --argjson counters "$counters" \
		--argjson duration "$duration" --arg kernel "$(uname -r)" --arg cc "$cc" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg mtu "${MEMSYNC_LINK_MTU:-9000}" '
		($delay_ms * 2) as $rtt_t |
		(if $udp.packets > 0 then 100 * $udp.lost / $udp.packets else null end) as $lossm |
		(if $udp.link_packets + $udp.link_drops > 0 then 100 * $udp.link_drops / ($udp.link_packets + $udp.link_drops) else null end) as $lossl |
		{bench: "netem", driver: $drv, profile: $prof, vm_lab: ($vm == 1), kernel: $kernel,
		 note: (if $vm == 1 then "QEMU TCG: figures for correctness only" else null end),
		 target: {rtt_ms: $rtt_t, rate_mbit: (if $rate > 0 then $rate / 1e6 else null end), loss_pct: $loss},
		 measured: {rtt_ms_min: $rmin, rtt_ms_avg: $ravg, rtt_ms_max: $rmax, rtt_ms_median: $rmed, rtt_ms_base: $base, rtt_tool: $tool,
			    tcp_mbit: ($tcp / 1e6 * 10 | round / 10), tcp_seconds: $duration, tcp_cc: $cc,
			    udp_loss_pct: $lossm, udp_packets: $udp.packets, link_loss_pct: $lossl,
			    link_counters: $counters, loadavg: $load},
		 ok: {rtt: (if $ravg == null then false else (($ravg - $base - $rtt_t) | fabs) <= 0.05 * $rtt_t + 0.05 end),
		      tcp: (if $rate > 0 and $rate <= 1e9 and $loss == 0 then ($tcp >= 0.9 * $rate and $tcp <= 1.1 * $rate) else null end),
		      loss: (if $lossl == null then false else
			     (($lossl - $loss) | fabs) <= 300 * ((($loss / 100) * (1 - $loss / 100) / ($udp.link_packets + $udp.link_drops)) | sqrt) + 0.05 end)},
		 user_link_mtu: (if $drv == "user" then ($mtu | tonumber) else null end)}' >> "$out"
}

bench_params "vm_lab=$([ "$in_vm" = 1 ] && echo true || echo false)" "drivers=$drivers" "profiles=$profiles" \
	"tcp_seconds=$duration" "pings=$pings" "rtt_tool=$rtt_tool" "repeat=$rep"
bench_header "$out"
nrec_before=$(wc -l < "$out")
# The path's own RTT per driver: the `local` profile (no delay, no rate, no loss).
declare -A rtt_base=()
for drv in $drivers; do
	up=$("$net" up --profile local --driver "$drv" --state "$state") || { echo "netem.sh: up local/$drv failed" >&2; exit 1; }
	eval "$up"
	set -- $(measure_rtt || true)
	"$net" down --state "$state"
	rtt_base[$drv]=${2:-0}
	echo "netem.sh: $drv: the path's own RTT (local profile, plain veth) is ${2:-unknown} ms" >&2
done
for r in $(seq "$rep"); do
	for drv in $drivers; do
		for prof in $profiles; do
			echo "netem.sh: $drv / $prof (round $r of $rep)" >&2
			bench_run "netem.jsonl: $drv / $prof, round $r" measure "$drv" "$prof"
		done
	done
done
if [ $vm_tc = 1 ]; then
	echo "netem.sh: this kernel has no sch_netem: measuring the tc driver in the VM lab (TCG, correctness only)" >&2
	bench_run "netem.jsonl: driver tc in the VM lab" \
		"$MEMSYNC_SRC/harness/vm/vm-run.sh" --timeout $((3000 * rep)) -- bash "$0" --driver tc --profiles "${profiles// /,}"
fi
# A full native pass stores the median TCP throughput of its rounds as the
# driver's ceiling for each profile (netem/ceilings/DRIVER.conf): scenario
# records on a profile asking for more carry link_capped. Quick passes and
# the VM lab store nothing.
if [ "$in_vm" = 0 ] && [ "${MEMSYNC_QUICK:-0}" = 0 ]; then
	tail -n +"$nrec_before" "$out" | jq -r -s 'map(select(.bench == "netem" and .vm_lab == false))
		| group_by([.driver, .profile])[] | (map(.measured.tcp_mbit) | sort) as $t
		| "\(.[0].driver) \(.[0].profile) \($t[($t | length) / 2 | floor] | floor)"' |
		while read -r drv prof mbit; do
			"$net" ceiling --driver "$drv" --profile "$prof" --set "$mbit" >/dev/null
		done
fi
if [ "$in_vm" = 0 ]; then
	echo "netem.sh: results in $out" >&2
	jq -r 'select(.type != "header" and .bench == "netem") |
		[.driver + (if .vm_lab then "(vm)" else "" end), .profile, .target.rtt_ms, .measured.rtt_ms_avg,
		 (.target.rate_mbit // "-"), .measured.tcp_mbit, .target.loss_pct,
		 ((.measured.link_loss_pct // 0) * 1000 | round / 1000),
		 ((.measured.udp_loss_pct // 0) * 1000 | round / 1000),
		 ([.ok.rtt, .ok.tcp, .ok.loss] | map(if . == null then "-" elif . then "ok" else "FAIL" end) | join("/"))] | @tsv' \
		<(tail -n +"$nrec_before" "$out") |
		(printf 'driver\tprofile\trtt_target\trtt_avg\trate_mbit\ttcp_mbit\tloss%%\tlink_loss%%\te2e_udp_loss%%\trtt/tcp/loss\n'; cat) | column -t >&2
fi
bench_finish
