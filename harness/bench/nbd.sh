#!/usr/bin/env bash
# summary: nbd approach (kernel NBD client; VM lab here): first-chunk latency and read MB/s vs RTT and pull workers, direct vs managed next to uffd/memory (and fuse when built); write MB/s vs RTT; device start time, sysfs polling vs uevents; data pulled before the device is ready; chunking local vs remote; migration downtime vs RTT and writer rate
# runtime: in the VM lab (TCG) about 100 minutes: first, read, write, chunk, start, pulled, migrate 78 min on the idle project VM, the targets about 20 (quick: about 8 minutes)
#
# Run it as `./run.sh --vm bench nbd [--quick]` on a kernel without nbd
# (this machine), `./run.sh bench nbd` where `modprobe nbd` works. Every
# record gets a field "lab": "vm-tcg" inside the VM lab ("native"
# elsewhere); figures compare only records of one lab from one bench run
# (TCG is 3-30x slower than native: never compare across labs). In the VM
# lab links are at most 100 Mbit/s (profiles made here), so the link, not the
# emulated CPU, is the bottleneck. Result files in $MEMSYNC_OUT:
#   nbd-first.jsonl    first-access latency vs RTT: nbd direct, managed; uffd, memory
#   nbd-read.jsonl     seq-read MB/s vs RTT: nbd direct, managed; uffd, memory (fuse if built)
#   nbd-workers.jsonl  managed seq-read and first access vs background pull requests in flight
#   nbd-write.jsonl    seq-write MB/s vs RTT, direct and managed (sync time in the record)
#   nbd-chunk.jsonl    managed chunk size (local) vs server-side chunk size (remote), 0 ms
#   nbd-start.jsonl    memsync-nbd start-time: device start time, poll vs uevent, netlink vs
#                      ioctl; bytes pulled before the device was ready vs pull requests
#   nbd-migrate.jsonl  --migrate downtime vs RTT and writer rate (10, 50 Mbit/s writer)
#   nbd-targets.jsonl  the issue's targets (part "targets", full runs): the scenario records
#                      and one "nbd-target" verdict record per target (below)
# Figures: plots/nbd-*.gp (./run.sh plot).
#
# Parts: first read write workers chunk start pulled migrate targets. All of
# them by default (targets only in full runs); MEMSYNC_NBD_PARTS (or
# `--only LIST` when the script is run by hand) names the ones to run,
# comma- or space-separated, e.g.
#   MEMSYNC_NBD_PARTS=targets ./run.sh --vm bench nbd
#   MEMSYNC_NBD_PARTS=first,read ./run.sh --vm bench nbd --quick
# Selected explicitly with --quick, "targets" runs at a smaller size (32 MiB,
# no warm-up, n = 2) only to show the part works: those verdicts say quick.
#
# The targets (VM lab), each measured with 1 warm-up run and n runs
# (MEMSYNC_NBD_TARGET_RUNS, default and minimum 5), reported as median
# (min-max) of the measured runs (warm-ups excluded) and written as
# {"type": "nbd-target", target, metric, median, min, max, n, limit, verdict}
# records into nbd-targets.jsonl:
#   read       1 GiB managed seq-read at 100 Mbit/s, 20 ms RTT: elapsed_s of the
#              workload <= 1.25 x (RTT + size/rate) = 1.25 x (0.02 s + 8 x 2^30 / 10^8 s)
#   migration  256 MiB region, 10 MB/s hot-set writer (80 Mbit/s), 20 ms RTT,
#              100 Mbit/s: migration.downtime_s <= 2 RTT + 20 ms + the VM's overhead,
#              where the overhead is measured in the same bench run: the median
#              downtime of the same migration (same size, writer, rate, runs) at
#              0 ms RTT, nothing subtracted from it. Natively (lab "native") the
#              overhead is 0: the target is 2 RTT + 20 ms, as in the fuse issue.
set -euo pipefail
. "$(dirname "$0")/functions.sh"
quick=${MEMSYNC_QUICK:-0}
M=$MEMSYNC_BUILD/memsync
lab=native
[ "${MEMSYNC_IN_VM:-0}" = 1 ] && lab=vm-tcg
tmp=$(mktemp -d /tmp/memsync-nbd-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if ! "$M" list approaches | grep -A1 '^  nbd ' | grep -q 'unsupported here'; then :; else
	"$M" list approaches | grep -A1 '^  nbd ' >&2
	echo "nbd bench: the kernel NBD client is missing here; run ./run.sh --vm bench nbd" >&2
	exit 1
fi

# Parts (functions.sh): all of them by default, targets only in full runs;
# `--only LIST` when the script is run by hand sets MEMSYNC_NBD_PARTS.
parts_all="first read write workers chunk start pulled migrate targets"
while [ $# -gt 0 ]; do
	case $1 in
	--only) [ $# -ge 2 ] || { echo "nbd bench: --only needs a list" >&2; exit 2; }; MEMSYNC_NBD_PARTS=$2; shift 2 ;;
	--only=*) MEMSYNC_NBD_PARTS=${1#--only=}; shift ;;
	*) echo "nbd bench: unknown argument '$1' (--only LIST; parts: $parts_all)" >&2; exit 2 ;;
	esac
done
[ "$quick" != 1 ] || : "${MEMSYNC_NBD_PARTS:=${parts_all% targets}}"
bench_parts MEMSYNC_NBD_PARTS "$parts_all"

size=64M rep=5 frep=10 rtts="0 10 20 40" pulls="1 4 16 64" starts=20 mrtts="0 20" warmup=1
chunks="64k 256k 1m" writers="migrate-writer-10mbit migrate-writer-50mbit"
if [ "$quick" = 1 ]; then
	size=16M rep=1 frep=2 rtts="20" pulls="16" starts=2 mrtts="20" warmup=0 chunks=256k writers=migrate-writer-10mbit
fi
rate=100mbit
# prof RTT_MS - the path of a profile at $rate with that RTT (written once).
prof() {
	local f=$tmp/nbd-${1}ms.conf
	[ -f "$f" ] || printf 'description = nbd bench: %s ms RTT, %s\ndelay = %sms\njitter = 0\nrate = %s\nloss = 0%%\n' \
		"$1" "$rate" "$(($1 / 2))" "$rate" >"$f"
	echo "$f"
}
# Profiles: RTT sweep at 100 Mbit/s (VM lab sizing; natively as well, so the runs compare).
profs=()
for r in $rtts; do
	profs+=("$(prof "$r")")
done
plist=$(IFS=,; echo "${profs[*]}")
p20=$(prof 20)
others=uffd,memory
"$M" list approaches | grep -q '^  fuse ' && others=$others,fuse

run() { # FILE ARGS...
	local f=$1; shift
	bench_header "$MEMSYNC_OUT/$f"
	bench_run "$f: memsync run $*" "$M" run -q --warmup "$warmup" "$@" --out "$MEMSYNC_OUT/$f"
}

# First-chunk latency, reads and writes vs RTT, both mount styles, next to the others.
for m in direct managed; do
	if bench_want first; then run nbd-first.jsonl -a nbd -w first-access -p "$plist" -s 8M -r "$frep" -o mount=$m; fi
	if bench_want read; then run nbd-read.jsonl -a nbd -w seq-read -p "$plist" -s "$size" -r "$rep" -o mount=$m; fi
	if bench_want write; then run nbd-write.jsonl -a nbd -w seq-write -p "$plist" -s "$size" -r "$rep" -o mount=$m; fi
done
if bench_want first; then run nbd-first.jsonl -a "$others" -w first-access -p "$plist" -s 8M -r "$frep"; fi
if bench_want read; then run nbd-read.jsonl -a "$others" -w seq-read -p "$plist" -s "$size" -r "$rep"; fi
# Background pull requests in flight (the thesis's pull workers).
if bench_want workers; then
	for n in $pulls; do
		run nbd-workers.jsonl -a nbd -w seq-read -p "$p20" -s "$size" -r "$rep" -o pull_inflight=$n
		run nbd-workers.jsonl -a nbd -w first-access -p "$p20" -s 8M -r "$frep" -o pull_inflight=$n
	done
fi
# Chunking on the local side (managed chunk) vs on the remote side (server_chunk).
if bench_want chunk; then
	for c in $chunks; do
		run nbd-chunk.jsonl -a nbd -w seq-read,rand-read -p "${profs[0]}" -s "$size" -r "$rep" -o chunk=$c
		run nbd-chunk.jsonl -a nbd -w seq-read,rand-read -p "${profs[0]}" -s "$size" -r "$rep" -o chunk=1m \
			-o server_chunk=$c
	done
fi
# Device start time: readiness by sysfs polling vs uevents, both attach methods.
S=$MEMSYNC_BUILD/memsync-nbd
if bench_want start; then
	for a in netlink ioctl; do
		for r in poll uevent; do
			bench_header "$MEMSYNC_OUT/nbd-start.jsonl"
			bench_run "nbd-start.jsonl: start-time --ready $r --attach $a" \
				sh -c '"$@" >>"$0"' "$MEMSYNC_OUT/nbd-start.jsonl" \
				"$S" start-time --ready $r --attach $a --size 64M --count "$starts"
		done
	done
fi
# Data pulled before the device is ready, vs pull requests (a local memsync-serve).
if bench_want pulled; then
	bench_header "$MEMSYNC_OUT/nbd-start.jsonl"
	port=$((20000 + RANDOM % 20000))
	"$MEMSYNC_BUILD/memsync-serve" --listen 127.0.0.1:$port --backend memory:$size -q &
	spid=$!
	sleep 1
	for n in $pulls; do
		bench_run "nbd-start.jsonl: start-time --pull $n" sh -c '"$@" >>"$0"' "$MEMSYNC_OUT/nbd-start.jsonl" \
			"$S" start-time --ready uevent --size "$size" --count "$starts" --remote "nbd://127.0.0.1:$port/" --pull "$n"
	done
	kill "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
fi
# Migration downtime vs RTT and writer rate.
if bench_want migrate; then
	for r in $mrtts; do
		for w in $writers; do
			wf=$MEMSYNC_SRC/approaches/delta/workloads/$w.conf
			[ -f "$wf" ] || { sed 's/50 Mbit/10 Mbit/; s/^rate = .*/rate = 10mbit/' \
				"$MEMSYNC_SRC/approaches/delta/workloads/migrate-writer-50mbit.conf" >"$tmp/$w.conf"; wf=$tmp/$w.conf; }
			run nbd-migrate.jsonl -a nbd --migrate -w "$wf" -p "$(prof "$r")" -s "$size" -r "$rep"
		done
	done
fi

# ---- the issue's targets ----------------------------------------------------
# median_of FILE EXPR - "median min max n" of EXPR over FILE's measured
# (not warm-up), passed scenario records; "null null null 0" when none.
median_of() {
	jq -rs "[.[] | select(.type == \"scenario\" and .status == \"pass\" and (.warmup | not)) | $2] | sort |
		length as \$n | if \$n == 0 then \"null null null 0\" else
		(\$n / 2 | floor) as \$h | \"\(if \$n % 2 == 1 then .[\$h] else (.[\$h - 1] + .[\$h]) / 2 end) \(.[0]) \(.[-1]) \(\$n)\"
		end" "$1"
}
# verdict TARGET METRIC LIMIT_S STATS NOTE - print the verdict line (ms/s as
# given) and append the verdict record to nbd-targets.jsonl.
verdict() {
	local target=$1 metric=$2 limit=$3 note=$5 med min max n v
	read -r med min max n <<<"$4"
	v=no-data
	[ "$n" = 0 ] || v=$(awk -v m="$med" -v l="$limit" 'BEGIN { print (m <= l ? "met" : "missed") }')
	awk -v t="$target" -v m="$med" -v lo="$min" -v hi="$max" -v n="$n" -v l="$limit" -v v="$v" -v note="$note" \
		-v q="$quick" 'BEGIN { printf "nbd target %s%s: median %.3f s (%.3f-%.3f), n=%d; limit %.3f s (%s): %s\n",
			t, q == 1 ? " (quick, not the target size)" : "", m, lo, hi, n, l, note, toupper(v) }' >&2
	jq -nc --arg target "$target" --arg metric "$metric" --arg v "$v" --arg note "$note" --arg lab "$lab" \
		--argjson med "$med" --argjson min "$min" --argjson max "$max" --argjson n "$n" --argjson limit "$limit" \
		--argjson quick "$([ "$quick" = 1 ] && echo true || echo false)" \
		'{type: "nbd-target", target: $target, metric: $metric, median: $med, min: $min, max: $max, n: $n,
		  limit: $limit, limit_is: $note, verdict: $v, quick: $quick, lab: $lab}' >>"$MEMSYNC_OUT/nbd-targets.jsonl"
}
# trun FILE WARMUP RUNS ARGS... - memsync run into FILE (under $tmp), then appended to nbd-targets.jsonl.
trun() {
	local f=$1 w=$2 n=$3; shift 3
	bench_run "nbd-targets.jsonl: memsync run $*" "$M" run -q --warmup "$w" -r "$n" "$@" --out "$f"
	[ ! -f "$f" ] || cat "$f" >>"$MEMSYNC_OUT/nbd-targets.jsonl"
}
if bench_want targets; then
	tn=${MEMSYNC_NBD_TARGET_RUNS:-5} tw=1 rbytes=$((1 << 30)) mbytes=$((256 << 20))
	if [ "$quick" = 1 ]; then
		tn=2 tw=0 rbytes=$((32 << 20)) mbytes=$((32 << 20))
	fi
	if [ "$quick" != 1 ] && [ "$tn" -lt 5 ]; then
		echo "nbd bench: the targets need n >= 5 runs (MEMSYNC_NBD_TARGET_RUNS=$tn)" >&2
		exit 2
	fi
	bench_header "$MEMSYNC_OUT/nbd-targets.jsonl"
	wt=$tmp/migrate-writer-10MBps.conf
	sed 's/^rate = .*/rate = 80mbit/; s/50 Mbit/10 MB/' "$MEMSYNC_SRC/approaches/delta/workloads/migrate-writer-50mbit.conf" >"$wt"
	trun "$tmp/t-read.jsonl" $tw "$tn" -a nbd -w seq-read -p "$p20" -s $rbytes -o mount=managed -o pull_inflight=16
	trun "$tmp/t-mig20.jsonl" $tw "$tn" -a nbd --migrate -w "$wt" -p "$p20" -s $mbytes
	trun "$tmp/t-mig0.jsonl" $tw "$tn" -a nbd --migrate -w "$wt" -p "$(prof 0)" -s $mbytes
	rlimit=$(awk -v b=$rbytes 'BEGIN { printf "%.6f", 1.25 * (0.020 + b * 8 / 1e8) }')
	verdict "read-$((rbytes >> 20))MiB-100mbit-20ms" elapsed_s "$rlimit" "$(median_of "$tmp/t-read.jsonl" .elapsed_s)" \
		"1.25 x (RTT + size/rate)"
	read -r over _ _ on <<<"$(median_of "$tmp/t-mig0.jsonl" .migration.downtime_s)"
	if [ "$lab" = native ]; then
		over=0
	fi
	if [ "$over" = null ]; then
		echo "nbd bench: no passed 0 ms migration: the VM overhead is unknown, no migration verdict" >&2
		bench_fail "nbd-targets.jsonl: the VM overhead (0 ms migrations)"
	else
		mlimit=$(awk -v o="$over" 'BEGIN { printf "%.6f", 2 * 0.020 + 0.020 + o }')
		verdict "migration-$((mbytes >> 20))MiB-10MBps-20ms" migration.downtime_s "$mlimit" \
			"$(median_of "$tmp/t-mig20.jsonl" .migration.downtime_s)" \
			"2 RTT + 20 ms + VM overhead $(awk -v o="$over" 'BEGIN { printf "%.3f", o }') s (median downtime at 0 ms RTT, n=$on)"
	fi
fi
# Label every record with the lab it ran in.
for f in "$MEMSYNC_OUT"/nbd-*.jsonl; do
	jq -c --arg lab "$lab" 'if .type == "header" then . else . + {lab: $lab} end' "$f" >"$tmp/labelled" && mv "$tmp/labelled" "$f"
done
echo "nbd bench ($lab): results in $MEMSYNC_OUT/nbd-*.jsonl" >&2
bench_finish
