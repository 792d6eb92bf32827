#!/usr/bin/env bash
# summary: nbd approach (kernel NBD client; VM lab here): first-chunk latency and read MB/s vs RTT and pull workers, direct vs managed next to uffd/memory (and fuse when built); write MB/s vs RTT; device start time, sysfs polling vs uevents; data pulled before the device is ready; chunking local vs remote; migration downtime vs RTT and writer rate
# runtime: in the VM lab (TCG) about 60 minutes (quick: about 8 minutes)
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
#   nbd-targets.jsonl  the issue's targets (full runs only): 1 GiB managed seq-read at
#                      100 Mbit/s, 20 ms; 256 MiB migration, 10 MB/s writer, 20 ms
# Figures: plots/nbd-*.gp (./run.sh plot).
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

size=64M rep=3 frep=10 rtts="0 10 20 40" pulls="1 4 16 64" starts=20 mrtts="0 20" warmup=1
chunks="64k 256k 1m" writers="migrate-writer-10mbit migrate-writer-50mbit"
if [ "$quick" = 1 ]; then
	size=16M rep=1 frep=2 rtts="20" pulls="16" starts=2 mrtts="20" warmup=0 chunks=256k writers=migrate-writer-10mbit
fi
rate=100mbit
# Profiles: RTT sweep at 100 Mbit/s (VM lab sizing; natively as well, so the runs compare).
profs=()
for r in $rtts; do
	f=$tmp/nbd-${r}ms.conf
	printf 'description = nbd bench: %s ms RTT, %s\ndelay = %sms\njitter = 0\nrate = %s\nloss = 0%%\n' \
		"$r" "$rate" "$((r / 2))" "$rate" >"$f"
	profs+=("$f")
done
plist=$(IFS=,; echo "${profs[*]}")
p20=$tmp/nbd-20ms.conf
[ -f "$p20" ] || printf 'description = nbd bench: 20 ms RTT, %s\ndelay = 10ms\njitter = 0\nrate = %s\nloss = 0%%\n' \
	"$rate" "$rate" >"$p20"
others=uffd,memory
"$M" list approaches | grep -q '^  fuse ' && others=$others,fuse

run() { # FILE ARGS...
	local f=$1; shift
	bench_header "$MEMSYNC_OUT/$f"
	bench_run "$f: memsync run $*" "$M" run -q --warmup "$warmup" "$@" --out "$MEMSYNC_OUT/$f"
}

# First-chunk latency and reads vs RTT, both mount styles, next to the others.
for m in direct managed; do
	run nbd-first.jsonl -a nbd -w first-access -p "$plist" -s 8M -r "$frep" -o mount=$m
	run nbd-read.jsonl -a nbd -w seq-read -p "$plist" -s "$size" -r "$rep" -o mount=$m
	run nbd-write.jsonl -a nbd -w seq-write -p "$plist" -s "$size" -r "$rep" -o mount=$m
done
run nbd-first.jsonl -a "$others" -w first-access -p "$plist" -s 8M -r "$frep"
run nbd-read.jsonl -a "$others" -w seq-read -p "$plist" -s "$size" -r "$rep"
# Background pull requests in flight (the thesis's pull workers).
for n in $pulls; do
	run nbd-workers.jsonl -a nbd -w seq-read -p "$p20" -s "$size" -r "$rep" -o pull_inflight=$n
	run nbd-workers.jsonl -a nbd -w first-access -p "$p20" -s 8M -r "$frep" -o pull_inflight=$n
done
# Chunking on the local side (managed chunk) vs on the remote side (server_chunk).
for c in $chunks; do
	run nbd-chunk.jsonl -a nbd -w seq-read,rand-read -p "${profs[0]}" -s "$size" -r "$rep" -o chunk=$c
	run nbd-chunk.jsonl -a nbd -w seq-read,rand-read -p "${profs[0]}" -s "$size" -r "$rep" -o chunk=1m \
		-o server_chunk=$c
done
# Device start time: readiness by sysfs polling vs uevents, both attach methods.
S=$MEMSYNC_BUILD/memsync-nbd
for a in netlink ioctl; do
	for r in poll uevent; do
		bench_header "$MEMSYNC_OUT/nbd-start.jsonl"
		bench_run "nbd-start.jsonl: start-time --ready $r --attach $a" \
			sh -c '"$@" >>"$0"' "$MEMSYNC_OUT/nbd-start.jsonl" \
			"$S" start-time --ready $r --attach $a --size 64M --count "$starts"
	done
done
# Data pulled before the device is ready, vs pull requests (a local memsync-serve).
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
# Migration downtime vs RTT and writer rate.
for r in $mrtts; do
	for w in $writers; do
		wf=$MEMSYNC_SRC/approaches/delta/workloads/$w.conf
		[ -f "$wf" ] || { sed 's/50 Mbit/10 Mbit/; s/^rate = .*/rate = 10mbit/' \
			"$MEMSYNC_SRC/approaches/delta/workloads/migrate-writer-50mbit.conf" >"$tmp/$w.conf"; wf=$tmp/$w.conf; }
		run nbd-migrate.jsonl -a nbd --migrate -w "$wf" -p "$tmp/nbd-${r}ms.conf" -s "$size" -r "$rep"
	done
done
# The issue's targets (full runs only: 1 GiB through TCG takes minutes).
if [ "$quick" != 1 ]; then
	run nbd-targets.jsonl -a nbd -w seq-read -p "$p20" -s 1G -o pull_inflight=16
	sed 's/^rate = .*/rate = 80mbit/; s/50 Mbit/10 MB/' "$MEMSYNC_SRC/approaches/delta/workloads/migrate-writer-50mbit.conf" \
		>"$tmp/migrate-writer-10MBps.conf"
	run nbd-targets.jsonl -a nbd --migrate -w "$tmp/migrate-writer-10MBps.conf" -p "$p20" -s 256M
	jq -r 'select(.type == "scenario" and .status == "pass") |
		if .mode == "migrate" then
			"target migration: downtime \(.migration.downtime_s * 1000 | floor) ms (target 2 RTT + 20 ms = 60 ms plus the VM overhead)"
		else
			"target 1 GiB managed read: \(.elapsed_s // 0) s vs RTT + size/rate = \(0.02 + 8 * 1073741824 / 1e8) s (within 1.25x)"
		end' "$MEMSYNC_OUT/nbd-targets.jsonl" >&2 || true
fi
# Label every record with the lab it ran in.
for f in "$MEMSYNC_OUT"/nbd-*.jsonl; do
	jq -c --arg lab "$lab" 'if .type == "header" then . else . + {lab: $lab} end' "$f" >"$tmp/labelled" && mv "$tmp/labelled" "$f"
done
echo "nbd bench ($lab): results in $MEMSYNC_OUT/nbd-*.jsonl" >&2
bench_finish
