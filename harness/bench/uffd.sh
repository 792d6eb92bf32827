#!/usr/bin/env bash
# summary: uffd approach: read throughput and first-access latency vs RTT, chunk size, handler threads, prefetch; WP write throughput; post-copy downtime vs RTT; handler in the local vs the workload process; the issue's targets
# runtime: about 80 minutes (quick: about 10 minutes)
#
# Every run goes through `memsync run` (every byte verified; the network
# through the suite's netem driver, `user` on kernels without sch_netem).
# Result files in $MEMSYNC_OUT (one JSONL each, records carry the options):
#   uffd-rtt.jsonl      seq-read vs RTT (rtt-*), prefetch off vs both
#   uffd-first.jsonl    first-access latency vs RTT, demand only (prefetch=off)
#   uffd-chunk.jsonl    seq/rand reads vs chunk (fault-around) size, prefetch off
#   uffd-threads.jsonl  handler threads 1/2/4/8, prefetch off and both
#   uffd-write.jsonl    writes with WP tracking (sync time in the record)
#   uffd-migrate.jsonl  post-copy migration: downtime and total time vs RTT
#   uffd-handler.jsonl  handler=process vs handler=inprocess, alternating in
#                       every repetition: seq/rand reads (default options and
#                       4 KiB demand faults), WP writes, first access
#   uffd-targets.jsonl  the issue's targets: local and loopback (netem none)
#                       1 GiB seq-read; wan 1 GiB seq-read; wan first access
# Every point is repeated (-r: 5, quick 2; first access 20, quick 3) after one
# warm-up run per scenario (memsync run's default). Figures: plots/uffd-*.gp (./run.sh plot).
set -euo pipefail
. "$(dirname "$0")/functions.sh"
quick=${MEMSYNC_QUICK:-0}
M=$MEMSYNC_BUILD/memsync
size=256M rep=5 frep=20 rtts=rtt-0ms,rtt-2ms,rtt-6ms,rtt-10ms,rtt-20ms,rtt-40ms
if [ "$quick" = 1 ]; then
	size=64M rep=2 frep=3 rtts=rtt-0ms,rtt-6ms,rtt-20ms
fi
bench_params "size=$size" "repeat=$rep" "first_access_repeat=$frep" "rtts=$rtts"
# One `memsync run` into FILE (which starts with the bench's header); a
# failed run is named at the end and makes the bench exit 1.
run() { # FILE ARGS...
	local f=$1; shift
	bench_header "$MEMSYNC_OUT/$f"
	bench_run "$f: memsync run -a uffd $*" "$M" run -q -a uffd "$@" --out "$MEMSYNC_OUT/$f"
}
# Background pull sized to a bandwidth-delay product of a few MB (about 8 MB
# in flight: more only fills the emulator's drop-tail queue).
bgopts=(-o batch=2m -o inflight=4 -o pullers=4)

# Targets first (the table in approaches/uffd/README.md).
# 0 ms: 1 MiB faults plus readahead (overlaps the next fetch with the copy).
raopts=(-o chunk=1m -o prefetch=readahead -o batch=2m -o inflight=4 -o pullers=2)
run uffd-targets.jsonl -w seq-read -p local -s 1G -r "$rep" "${raopts[@]}"
run uffd-targets.jsonl -w seq-read -p local -s 1G -r "$rep" --netem none "${raopts[@]}"
run uffd-targets.jsonl -w seq-read -p wan -s 1G -r "$rep" "${bgopts[@]}"
run uffd-targets.jsonl -w first-access -p wan,local -s 8M -r "$frep" "${bgopts[@]}"

# Throughput vs RTT, demand only and with prefetch.
run uffd-rtt.jsonl -w seq-read -p "$rtts" -s "$size" -r "$rep" -o prefetch=off -o chunk=1m
run uffd-rtt.jsonl -w seq-read -p "$rtts" -s "$size" -r "$rep" -o prefetch=both "${bgopts[@]}"
# First-access latency vs RTT (demand fault, page first).
run uffd-first.jsonl -w first-access -p "$rtts" -s 8M -r "$frep" "${bgopts[@]}"
# Chunk (fault-around) size, no prefetch, local link.
for c in 4k 16k 64k 256k 1m; do
	run uffd-chunk.jsonl -w seq-read-4k,rand-read -p local -s "$size" -r "$rep" -o prefetch=off -o chunk=$c
done
# Handler threads.
for t in 1 2 4 8; do
	run uffd-threads.jsonl -w seq-read-4k,rand-read -p local -s "$size" -r "$rep" -o prefetch=off -o threads=$t
	run uffd-threads.jsonl -w rand-read -p rtt-2ms -s 64M -r "$rep" -o prefetch=both -o threads=$t
done
# Writes with write-protect tracking.
run uffd-write.jsonl -w seq-write,rand-write,mixed,rand-write-1pct -p local,wan -s "$size" -r "$rep"
# Handler threads in the local process (uffd handed over with SCM_RIGHTS)
# vs in the workload process (handler=inprocess); the two modes alternate
# in every repetition so load on a shared machine hits both alike.
hsize=$size hrep=$rep
[ "$quick" = 1 ] && hsize=64M
for _ in $(seq "$hrep"); do
	for h in process inprocess; do
		run uffd-handler.jsonl -w seq-read,rand-read,seq-write,rand-write -p local -s "$hsize" -o handler=$h
		run uffd-handler.jsonl -w seq-read-4k,rand-read -p local -s "$hsize" -o handler=$h -o prefetch=off -o chunk=4k
		run uffd-handler.jsonl -w first-access -p local,wan -s 8M -r "$frep" -o handler=$h "${bgopts[@]}"
	done
done
# Post-copy migration vs RTT.
run uffd-migrate.jsonl --migrate -w migrate-writer -p "$rtts" -s "$size" -r "$rep" "${bgopts[@]}"
echo "uffd bench: results in $MEMSYNC_OUT/uffd-*.jsonl" >&2
bench_finish
