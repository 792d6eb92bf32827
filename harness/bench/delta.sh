#!/usr/bin/env bash
# summary: delta approach: hash throughput (5 hashes x 4 KiB-1 MiB x 1/N threads), delta vs rsync over the same emulated link (1 GiB, 0.1/1/10 % changed, local/lan/wan), steady-state cycles vs size and change rate (hash vs pagemap), migration downtime vs RTT
# runtime: about 70 minutes (quick: about 12 minutes)
#
# Parts (one JSONL file each in $MEMSYNC_OUT):
#   delta-hash.jsonl    memsync-delta hashbench: GB/s per algorithm, chunk size, threads
#   delta-rsync.jsonl   the same file with the same changes synced by delta (steady-state
#                       cycle of a long-running pusher, 4k and 64k chunks; and a stateless
#                       one-shot push) and by rsync (daemon in the remote namespace,
#                       --inplace, default delta algorithm); wall time and bytes on the
#                       emulated link (memsync-net counters)
#   delta-cycles.jsonl  memsync run records: steady-state sync() after rand-write-{0.1,1,10}pct,
#                       sizes 64M/256M/1G, profiles local/lan/wan, dirty=hash|pagemap
#   delta-migrate.jsonl memsync run --migrate records: downtime vs profile and writer rate
#                       (50/200/800 Mbit/s hot-set writers), hash vs pagemap
# Every point is repeated 5 times (quick: 2): hashbench runs, change sets per
# fraction and profile, memsync run -r (after its one warm-up run per scenario).
# MB/s = 10^6 bytes/s. Use a Release build (MEMSYNC_BUILD).
# MEMSYNC_DELTA_PARTS selects parts (default "hash rsync cycles migrate").
set -euo pipefail
. "$(dirname "$0")/functions.sh"
quick=${MEMSYNC_QUICK:-0}
D=$MEMSYNC_BUILD/memsync-delta
net=$MEMSYNC_BUILD/memsync-net
ms=$MEMSYNC_BUILD/memsync
for f in "$D" "$net" "$ms"; do [ -x "$f" ] || { echo "delta.sh: $f not built" >&2; exit 1; }; done
for c in jq rsync cmp; do command -v $c >/dev/null || { echo "delta.sh: needs $c" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "delta.sh: needs root (network namespaces)" >&2; exit 1; }
mkdir -p "$MEMSYNC_OUT"
# Files live in tmpfs (functions.sh's $bench_delta_workdir) so that disk
# writeback of freshly written gigabytes does not land in the cycle times (set
# MEMSYNC_DELTA_WORKDIR to measure a disk instead).
wroot=$bench_delta_workdir
work=$(mktemp -d "$wroot/memsync-delta-bench.XXXXXX")
state=$work/net.state
cleanup() {
	[ -f "$state" ] && "$net" down --state "$state" >/dev/null 2>&1
	rm -rf "$work"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$quick" = 1 ]; then
	hsize=64M rsize=$((256 << 20)) sizes=64M,256M profiles="local lan wan" fracs="0.001 0.01 0.1"
else
	hsize=512M rsize=$((1 << 30)) sizes=64M,256M,1G profiles="local lan wan" fracs="0.001 0.01 0.1"
fi
mprofiles="local lan metro wan"
rep=5
[ "$quick" = 1 ] && rep=2
[ "$quick" = 1 ] && mprofiles="local wan"

bench_parts MEMSYNC_DELTA_PARTS "hash rsync cycles migrate"
bench_params "hash_size=$hsize" "rsync_size=$rsize" "cycle_sizes=$sizes" "profiles=$profiles" \
	"fractions=$fracs" "migrate_profiles=$mprofiles" "workdir=$wroot" "repeat=$rep"

# ---- 1. hash throughput ------------------------------------------------------
if bench_want hash; then
echo "delta.sh: hash throughput ($hsize)" >&2
hout=$MEMSYNC_OUT/delta-hash.jsonl
hflags=(--size "$hsize")
[ "$quick" = 1 ] && hflags+=(--quick)
hashbench() { local i; for i in $(seq "$rep"); do "$D" hashbench "${hflags[@]}" >>"$hout"; done; }
: >"$hout"
bench_header "$hout"
bench_run "delta-hash.jsonl: memsync-delta hashbench ${hflags[*]}" hashbench
fi

# ---- 2. delta vs rsync -------------------------------------------------------
# Per profile: the source file on host 0; on host 1 an rsync daemon and three
# delta receivers, each with its own identical copy. After every change set
# (memsync-delta mutate: FRACTION of the 4 KiB blocks, distinct, random):
#   delta-steady-4k / -64k  one more cycle of a long-running pusher (--cycles):
#                           the destination's hashes are known, as in the
#                           approach's syncer; this is the approach's cycle
#   delta-oneshot-4k        a fresh `memsync-delta push`: process start,
#                           connect, hash exchange, cycle (stateless, like rsync)
#   rsync                   rsync --ignore-times --inplace to the daemon
# Every copy is compared with the source after each step.
wire() { "$net" counters --state "$state" | jq '.host0_to_others.bytes + .others_to_host0.bytes'; }
now() { date +%s.%N; }
# Emit one row.
row() { # method chunk seconds wire payload hash_exchange chunks
	jq -c -n --arg m "$1" --arg prof "$prof" --arg frac "$frac" --argjson size "$rsize" --argjson chunk "$2" \
		--arg t "$3" --argjson w "$4" --argjson p "$5" --argjson hx "$6" --argjson c "$7" \
		'{type:"delta-rsync", method:$m, profile:$prof, size:$size, fraction:($frac|tonumber), chunk:$chunk,
		  seconds:($t|tonumber), wire_bytes:$w, payload_bytes:$p, hash_exchange_bytes:$hx, chunks_sent:$c,
		  wire_over_payload_plus_hashes:(if $m == "rsync" or ($p + $hx) == 0 then null else $w / ($p + $hx) end)}' >>"$out"
}
# Stop the profile's daemons and pushers, remove its link and copies.
rsync_teardown() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=()
	[ -f "$state" ] && "$net" down --state "$state" >/dev/null 2>&1
	rm -rf "$work/src" "$work/rsyncd" "$work/d4" "$work/d64" "$work/d1"
	return 0
}
# Every change set over one profile (runs in bench_run's subshell, which
# tears the profile down however it ends).
rsync_profile() {
	prof=$1 pids=()
	trap rsync_teardown EXIT
	trap 'exit 130' INT TERM
	echo "delta.sh: delta vs rsync, $((rsize >> 20)) MiB, profile $prof" >&2
	local up
	up=$("$net" up --profile "$prof" --state "$state")
	eval "$up"
	h0=$MEMSYNC_NET_H0_NETNS h1=$MEMSYNC_NET_H1_NETNS addr=$MEMSYNC_NET_H1_ADDR
	mkdir -p "$work/src" "$work/rsyncd" "$work/d4" "$work/d64" "$work/d1"
	head -c $rsize /dev/urandom >"$work/src/region"
	for d in rsyncd d4 d64 d1; do cp "$work/src/region" "$work/$d/region"; done
	cat >"$work/rsyncd.conf" <<CONF
pid file = $work/rsyncd.pid
use chroot = no
[m]
path = $work/rsyncd
read only = no
uid = root
gid = root
CONF
	ip netns exec "$h1" rsync --daemon --no-detach --config="$work/rsyncd.conf" --port=8730 &
	pids+=($!)
	for r in "d4 8731" "d64 8732" "d1 8733"; do
		set -- $r
		ip netns exec "$h1" "$D" recv "$addr" "$2" "$work/$1/region" 2>>"$work/recv.log" &
		pids+=($!)
	done
	sleep 0.5
	# Long-running pushers, driven through FIFOs.
	for c in 4k 64k; do
		rm -f "$work/p$c.in" "$work/p$c.out"
		mkfifo "$work/p$c.in" "$work/p$c.out"
		port=8731; [ $c = 64k ] && port=8732
		ip netns exec "$h0" "$D" push "$addr" $port "$work/src/region" --chunk $c --cycles \
			<"$work/p$c.in" >"$work/p$c.out" 2>>"$work/push.log" &
		pids+=($!)
	done
	exec 7>"$work/p4k.in" 8<"$work/p4k.out" 5>"$work/p64k.in" 6<"$work/p64k.out"
	read -r _ <&8; read -r _ <&6   # the initial cycles (destinations already identical)
	seed=1
	for frac in $(for _ in $(seq "$rep"); do echo $fracs; done); do
		"$D" mutate "$work/src/region" "$frac" --seed $seed --block 4096 >/dev/null
		seed=$((seed + 1))
		cat "$work/src/region" >/dev/null # same page-cache state for every method
		for c in 4k 64k; do
			w0=$(wire); t0=$(now)
			if [ $c = 4k ]; then echo >&7; read -r j <&8; else echo >&5; read -r j <&6; fi
			t1=$(now); w1=$(wire)
			row delta-steady-$c "$(echo "$j" | jq .chunk)" "$(echo "$t1 - $t0" | bc)" $((w1 - w0)) \
				"$(echo "$j" | jq .bytes_sent)" 0 "$(echo "$j" | jq .chunks_sent)"
		done
		w0=$(wire); t0=$(now)
		j=$(ip netns exec "$h0" "$D" push "$addr" 8733 "$work/src/region" --chunk 4k --workers 2)
		t1=$(now); w1=$(wire)
		row delta-oneshot-4k 4096 "$(echo "$t1 - $t0" | bc)" $((w1 - w0)) "$(echo "$j" | jq .bytes_sent)" \
			"$(echo "$j" | jq .hash_exchange_bytes)" "$(echo "$j" | jq .chunks_sent)"
		w0=$(wire); t0=$(now)
		ip netns exec "$h0" rsync --ignore-times --inplace --no-whole-file "$work/src/region" \
			"rsync://$addr:8730/m/region" >/dev/null
		t1=$(now); w1=$(wire)
		row rsync 0 "$(echo "$t1 - $t0" | bc)" $((w1 - w0)) 0 0 0
		for d in rsyncd d4 d64 d1; do
			cmp -s "$work/src/region" "$work/$d/region" || { echo "delta.sh: copy $d differs from the source" >&2; exit 1; }
		done
		jq -r -s --arg p "$prof" --arg f "$frac" '[.[] | select(.profile == $p and (.fraction|tostring) == $f)] |
			"  \($p) \($f|tonumber*100)%: " + (map("\(.method) \(.seconds*1000|round) ms \(.wire_bytes) B") | join(", "))' "$out" >&2
	done
	exec 7>&- 5>&- 8<&- 6<&-
}
if bench_want rsync; then
out=$MEMSYNC_OUT/delta-rsync.jsonl
: >"$out"
bench_header "$out"
for prof in $profiles; do
	bench_run "delta-rsync.jsonl: profile $prof" rsync_profile "$prof"
done
fi

# ---- 3. steady-state cycles (memsync run) -------------------------------------
if bench_want cycles; then
echo "delta.sh: steady-state cycles, sizes $sizes" >&2
cyc=$MEMSYNC_OUT/delta-cycles.jsonl
: >"$cyc"
bench_header "$cyc"
for prof in $profiles; do
	for d in hash pagemap; do
		for s in ${sizes//,/ }; do
			bench_run "delta-cycles.jsonl: $prof dirty=$d $s" "$ms" run -q --workdir "$wroot" -a delta \
				-w rand-write-0.1pct,rand-write-1pct,rand-write-10pct -p "$prof" -s "$s" -r "$rep" -o dirty=$d --out "$cyc"
		done
	done
done
fi

# ---- 4. migration downtime ---------------------------------------------------
if bench_want migrate; then
echo "delta.sh: migration downtime" >&2
mig=$MEMSYNC_OUT/delta-migrate.jsonl
: >"$mig"
bench_header "$mig"
for prof in $mprofiles; do
	for d in hash pagemap; do
		bench_run "delta-migrate.jsonl: $prof dirty=$d" "$ms" run -q --workdir "$wroot" --migrate -a delta \
			-w "$MEMSYNC_SRC/approaches/delta/workloads/migrate-writer-50mbit.conf,migrate-writer,$MEMSYNC_SRC/approaches/delta/workloads/migrate-writer-800mbit.conf" \
			-p "$prof" -s 256M -r "$rep" -o dirty=$d --out "$mig"
	done
done
fi
echo "delta.sh: results in $MEMSYNC_OUT/delta-*.jsonl" >&2
bench_finish
