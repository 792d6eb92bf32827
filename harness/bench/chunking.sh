#!/usr/bin/env bash
# summary: chunking strategies of the delta engine vs rsync: fixed 4k/64k/1m chunks, content-defined (FastCDC) 4k/16k/64k and rsync on in-place writes, shifted bytes, a sqlite database before/after updates and two tars of a directory, at local/lan/wan; bytes on the wire, time, CPU per side, metadata bytes
# runtime: about 13 minutes, measured on the idle project VM (quick: about 4 minutes on a loaded one)
#
# One file pair per workload: OLD (what the receiver holds) and NEW (what the
# sender pushes), made here:
#   inplace  random data, 1 % of the 4 KiB blocks overwritten in place
#            (memsync-delta mutate: what a memory region sees)
#   shift    random data, 64 insertions and deletions of 1-256 bytes at random
#            offsets (memsync-delta splice): everything after an edit moves
#   sqlite   a sqlite3 database (4 KiB pages, an index) before and after a
#            batch of updates (0.1 % of the rows), deletes (0.1 %) and inserts
#            (0.5 %, random keys: the index changes all over)
#   tar      tar of a directory of random files, and of the same directory
#            after 10 % of the files grew or shrank, 2 % were removed and 2 %
#            added: most members move
# Per profile (memsync-net, host 0 -> host 1) and strategy, a fresh copy of
# OLD on host 1 is brought to NEW by one stateless transfer:
#   fixed-4k, fixed-64k, fixed-1m  memsync-delta push --chunk N (hash exchange,
#                                  changed chunks at fixed offsets)
#   cdc-4k, cdc-16k, cdc-64k       memsync-delta push --chunking cdc --cdc-avg N
#                                  (RECIPE/WANT exchange, chunks found anywhere)
#   rsync                          rsync (daemon on host 1, --ignore-times
#                                  --no-whole-file; temp file + rename, its
#                                  default, which reuses moved blocks)
# Each point is 1 warm-up transfer (run 0, "warmup": true) and 5 measured
# ones (--quick: 1), the strategies taking turns run by run. The copy is
# compared with NEW after each transfer. One JSON line per
# transfer (type "chunking") after a header record goes to
# $MEMSYNC_OUT/chunking.jsonl: seconds (the sender's wall time: process start
# to exit, the receiver's work included), wire_bytes (both directions on the
# emulated link), payload_bytes (chunk data or rsync's literal data),
# metadata_bytes (hashes, recipes, wants; rsync: its bytes sent + received
# minus the literal data), cpu_sender_s / cpu_receiver_s (user + system).
# Use a Release build (MEMSYNC_BUILD). MB = 10^6 bytes.
# MEMSYNC_CHUNKING_WORKLOADS / _STRATEGIES / _PROFILES narrow the run; _REPEAT sets the
# measured transfers per point.
set -euo pipefail
. "$(dirname "$0")/functions.sh"
quick=${MEMSYNC_QUICK:-0}
D=$MEMSYNC_BUILD/memsync-delta
net=$MEMSYNC_BUILD/memsync-net
for f in "$D" "$net" "$MEMSYNC_BUILD/memsync"; do [ -x "$f" ] || { echo "chunking.sh: $f not built" >&2; exit 1; }; done
for c in jq rsync cmp sqlite3 tar; do command -v $c >/dev/null || { echo "chunking.sh: needs $c" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "chunking.sh: needs root (network namespaces)" >&2; exit 1; }
mkdir -p "$MEMSYNC_OUT"
out=$MEMSYNC_OUT/chunking.jsonl
# Files live in tmpfs ($bench_delta_workdir) so that disk writeback stays out of the times.
wroot=$bench_delta_workdir
work=$(mktemp -d "$wroot/memsync-chunking-bench.XXXXXX")
state=$work/net.state
pids=()
# Stop the receivers and daemons this shell started.
stop_children() {
	local p
	for p in "${pids[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null || true
	pids=()
}
cleanup() {
	stop_children
	[ -f "$state" ] && "$net" down --state "$state" >/dev/null 2>&1
	rm -rf "$work"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$quick" = 1 ]; then
	size=$((16 << 20)) profiles="local wan" reps=1
else
	size=$((256 << 20)) profiles="local lan wan" reps=5
fi
reps=${MEMSYNC_CHUNKING_REPEAT:-$reps}
profiles=${MEMSYNC_CHUNKING_PROFILES:-$profiles}
workloads=${MEMSYNC_CHUNKING_WORKLOADS:-inplace shift sqlite tar}
strategies=${MEMSYNC_CHUNKING_STRATEGIES:-fixed-4k fixed-64k fixed-1m cdc-4k cdc-16k cdc-64k rsync}
driver=${MEMSYNC_NETEM:-auto}
[ "$driver" = auto ] || [ "$driver" = user ] || [ "$driver" = tc ] || driver=auto

bench_params "size=$size" "profiles=$profiles" "workloads=$workloads" "strategies=$strategies" "hash=xxh3" \
	"repeat=$reps" "warmup_runs=1" "workdir=$wroot"
: >"$out"
bench_header "$out"

# ---- the file pairs ------------------------------------------------------------
# Random bytes (incompressible, as rsync and the engine see them alike).
random_file() { # FILE BYTES
	head -c "$2" /dev/urandom >"$1"
}
make_sqlite() { # OLD NEW
	local rows=$((size / 230))
	sqlite3 "$1" "PRAGMA page_size=4096; PRAGMA journal_mode=DELETE;
		CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
		WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $rows)
		INSERT INTO t SELECT x, abs(random()) % 1000000, hex(randomblob(100)) FROM c;
		CREATE INDEX tk ON t(k);" >/dev/null
	cp "$1" "$2"
	sqlite3 "$2" "BEGIN;
		UPDATE t SET v = hex(randomblob(100)) WHERE id % 1000 = 7;
		DELETE FROM t WHERE id % 997 = 3;
		INSERT INTO t(k, v) SELECT abs(random()) % 1000000, hex(randomblob(120)) FROM t WHERE id % 200 = 1;
		COMMIT;" >/dev/null
}
make_tar() { # OLD NEW
	local dir=$work/tree n=200 i f sz
	rm -rf "$dir" && mkdir -p "$dir"
	for i in $(seq 1 $n); do
		sz=$(( (size / n) * (50 + RANDOM % 100) / 100 ))
		random_file "$dir/f$i" $sz
	done
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$1" .
	for i in $(seq 1 $n); do
		f=$dir/f$i
		case $((i % 50)) in
		0|7|13|21|33) head -c $((RANDOM % 20000 + 1)) /dev/urandom >>"$f" ;;  # grew
		41|45) truncate -s $(( $(stat -c %s "$f") * 3 / 4 )) "$f" ;;          # shrank
		17) rm -f "$f" ;;                                                     # removed
		esac
	done
	for i in $(seq 1 $((n / 50))); do random_file "$dir/new$i" $((size / n)); done
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir" -cf "$2" .
	rm -rf "$dir"
}
make_pair() { # WORKLOAD OLD NEW
	case $1 in
	inplace) random_file "$2" $size; cp "$2" "$3"; "$D" mutate "$3" 0.01 --seed 1 --block 4096 >/dev/null ;;
	shift) random_file "$2" $size; cp "$2" "$3"; "$D" splice "$3" 64 --seed 2 --max 256 >/dev/null ;;
	sqlite) rm -f "$2" "$3"; make_sqlite "$2" "$3" ;;
	tar) make_tar "$2" "$3" ;;
	esac
}

# ---- one transfer ----------------------------------------------------------------
wire() { "$net" counters --state "$state" | jq '.host0_to_others.bytes + .others_to_host0.bytes'; }
now() { date +%s.%N; }
# CPU seconds (user + system) of a pid and its reaped children, from /proc.
cpu_of() { awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15 + $16 + $17) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU seconds `time` printed ("user sys").
cpu_sum() { awk '{print $1 + $2}' "$1"; }
port=$((20000 + $$ % 20000))
# delta STRATEGY-ARGS...: receiver (one session) on host 1, push from host 0.
# Sets secs wire_b payload meta chunks cpu_s cpu_r.
run_delta() {
	( TIMEFORMAT='%3U %3S'; time ip netns exec "$h1" "$D" recv "$addr" $port "$work/dst" --once 2>>"$work/recv.log" ) \
		2>"$work/recv.time" &
	local rpid=$! w0 t0 t1 j
	pids+=($rpid)
	sleep 0.2
	w0=$(wire); t0=$(now)
	{ TIMEFORMAT='%3U %3S'; time ip netns exec "$h0" "$D" push "$addr" $port "$work/new" "$@" >"$work/push.json"; } \
		2>"$work/push.time"
	t1=$(now)
	wait $rpid
	pids=("${pids[@]/$rpid}")
	wire_b=$(( $(wire) - w0 ))
	secs=$(echo "$t1 - $t0" | bc)
	j=$(cat "$work/push.json")
	payload=$(jq .bytes_sent <<<"$j") meta=$(jq .hash_exchange_bytes <<<"$j") chunks=$(jq .chunks_sent <<<"$j")
	cpu_s=$(cpu_sum "$work/push.time") cpu_r=$(cpu_sum "$work/recv.time")
}
# rsync to a daemon started for this transfer (its CPU: its own and its
# reaped per-connection children's, from /proc before it is stopped).
run_rsync() {
	cat >"$work/rsyncd.conf" <<CONF
pid file = $work/rsyncd.pid
use chroot = no
[m]
path = $work
read only = no
uid = root
gid = root
CONF
	rm -f "$work/rsyncd.pid"
	ip netns exec "$h1" rsync --daemon --no-detach --config="$work/rsyncd.conf" --port=8730 &
	local dpid=$! w0 t0 t1 lit sent recv
	pids+=($dpid)
	for _ in $(seq 50); do [ -s "$work/rsyncd.pid" ] && break; sleep 0.05; done
	sleep 0.2
	w0=$(wire); t0=$(now)
	{ TIMEFORMAT='%3U %3S'; time ip netns exec "$h0" rsync --ignore-times --no-whole-file --stats "$work/new" \
		"rsync://$addr:8730/m/dst" >"$work/rsync.stats"; } 2>"$work/push.time"
	t1=$(now)
	sleep 0.2 # the daemon reaps its connection's child
	cpu_r=$(cpu_of "$dpid")
	kill "$dpid" 2>/dev/null || true
	wait "$dpid" 2>/dev/null || true
	pids=("${pids[@]/$dpid}")
	wire_b=$(( $(wire) - w0 ))
	secs=$(echo "$t1 - $t0" | bc)
	num() { sed -n "s/^$1: \([0-9,]*\).*/\1/p" "$work/rsync.stats" | tr -d , | head -1; }
	lit=$(num "Literal data") sent=$(num "Total bytes sent") recv=$(num "Total bytes received")
	payload=${lit:-0} meta=$(( ${sent:-0} + ${recv:-0} - ${lit:-0} )) chunks=0
	cpu_s=$(cpu_sum "$work/push.time")
}
# One transfer of NEW onto a fresh copy of OLD with a strategy, checked and recorded.
transfer() { # STRATEGY (runs in bench_run's subshell)
	trap stop_children EXIT
	cp "$work/old" "$work/dst"
	cat "$work/new" "$work/dst" >/dev/null # same page-cache state for every strategy
	case $1 in
	fixed-*) run_delta --chunk "${1#fixed-}" ;;
	cdc-*) run_delta --chunking cdc --cdc-avg "${1#cdc-}" ;;
	rsync) run_rsync ;;
	*) echo "chunking.sh: unknown strategy $1" >&2; return 2 ;;
	esac
	cmp -s "$work/new" "$work/dst" || { echo "chunking.sh: $wl/$prof/$1: the copy differs from NEW" >&2; return 1; }
	row "$1"
}
# One row.
row() { # STRATEGY
	local kind=${1%%-*} chunk=0
	case $1 in *-4k) chunk=4096 ;; *-16k) chunk=16384 ;; *-64k) chunk=65536 ;; *-1m) chunk=1048576 ;; esac
	jq -c -n --arg s "$1" --arg kind "$kind" --argjson chunk $chunk --arg w "$wl" --arg p "$prof" \
		--arg drv "$MEMSYNC_NET_DRIVER" --argjson old "$(stat -c %s "$work/old")" \
		--argjson new "$(stat -c %s "$work/new")" --arg t "$secs" --argjson wire "$wire_b" --argjson pay "$payload" \
		--argjson meta "$meta" --argjson chunks "$chunks" --arg cs "$cpu_s" --arg cr "$cpu_r" --argjson run "$run" \
		'{type:"chunking", run:$run, warmup:($run == 0), workload:$w, profile:$p, netem_driver:$drv, strategy:$s,
		  chunking:$kind, chunk:$chunk,
		  hash:(if $kind == "rsync" then "rsync" else "xxh3" end), old_size:$old, new_size:$new,
		  seconds:($t|tonumber), wire_bytes:$wire, payload_bytes:$pay, metadata_bytes:$meta,
		  chunks_sent:$chunks, cpu_sender_s:($cs|tonumber), cpu_receiver_s:($cr|tonumber)}' >>"$out"
}

for wl in $workloads; do
	echo "chunking.sh: workload $wl ($((size >> 20)) MiB)" >&2
	make_pair "$wl" "$work/old" "$work/new"
	for prof in $profiles; do
		eval "$("$net" up --profile "$prof" --driver "$driver" --state "$state")"
		h0=$MEMSYNC_NET_H0_NETNS h1=$MEMSYNC_NET_H1_NETNS addr=$MEMSYNC_NET_H1_ADDR
		# Run 0 of every strategy is the warm-up; then the strategies take
		# turns, so that load on a shared machine hits them alike.
		for run in $(seq 0 "$reps"); do
			for s in $strategies; do
				port=$((port + 1))
				bench_run "chunking.jsonl: $wl $prof $s (run $run)" transfer "$s"
			done
		done
		"$net" down --state "$state" >/dev/null
		jq -r -s --arg w "$wl" --arg p "$prof" --arg n "$reps" '[.[] | select(.type == "chunking" and .workload == $w and .profile == $p
			and .warmup != true)] | group_by(.strategy) | map(sort_by(.seconds) as $t | sort_by(.wire_bytes) as $b
			| "\(.[0].strategy) \($t[length / 2 | floor].seconds * 1000 | round) ms \($b[length / 2 | floor].wire_bytes / 1e6
			* 100 | round / 100) MB") | "  \($w) \($p) (medians of \($n)): " + join(", ")' "$out" >&2
	done
	rm -f "$work/old" "$work/new" "$work/dst"
done
echo "chunking.sh: results in $out" >&2
bench_finish
