#!/usr/bin/env bash
# summary: fuse approach (direct and managed mounts) next to uffd and the baselines: first access and seq/rand read and write MB/s vs RTT; read MB/s vs pull requests in flight; chunking local vs remote; prefetch off/readahead/notify_store; migration downtime vs RTT and writer rate next to uffd post-copy and delta pre-copy; the issue's targets
# runtime: hours in full; by part rtt 10 min, write 60 min, migrate 14 min, chunk 8 min, first about 12 min, prefetch 38 min; run it by parts (quick: about 16 minutes)
#   (measured on the idle machine, 2026-12-02: write's 60 min are mostly the direct mount's
#   random writes, 130 s a run at 40 ms; first 11.6 min with its 4 KiB direct runs stopped at 6 ms;
#   prefetch 38 min 6 s (85 min with a warm-up in each repetition); inflight and targets
#   not measured yet)
#
# Every run goes through `memsync run` (every byte verified; the network
# through the suite's netem driver). Side by side means: in every
# repetition, fuse mount=direct, fuse mount=managed and uffd with the
# memory and disk baselines run one after the other on the same profiles,
# so load on a shared machine hits them alike. Result files in
# $MEMSYNC_OUT (one JSONL each, each starting with the bench's header):
#   fuse-targets.jsonl   the issue's targets: loopback (netem none) 1 GiB
#                        seq-read (managed, direct, managed + notify_store
#                        after the pull), first access local/wan, managed
#                        1 GiB at wan and at 25 ms unlimited, migration of
#                        1 GiB with a 10 MB/s writer at wan
#   fuse-first.jsonl     first-access latency vs RTT, side by side (fuse also
#                        with 4 KiB requests)
#   fuse-rtt.jsonl       seq-read and rand-read MB/s vs RTT, side by side
#   fuse-write.jsonl     seq-write and rand-write MB/s vs RTT, side by side
#   fuse-inflight.jsonl  managed seq-read vs pull requests in flight (1-256)
#   fuse-chunk.jsonl     chunking on the local side (engine chunk) vs on the
#                        remote side (the server's chunking), demand reads
#   fuse-prefetch.jsonl  prefetch off / readahead / notify_store, both mounts
#   fuse-migrate.jsonl   migration downtime vs RTT and vs writer rate: fuse
#                        two-phase, uffd post-copy, delta pre-copy
# Parts, one per file: targets first rtt write inflight chunk prefetch
# migrate; all by default, MEMSYNC_FUSE_PARTS names some, e.g.
#   MEMSYNC_FUSE_PARTS=first,rtt ./run.sh bench fuse
# The targets use 1 GiB regions; the sweeps 256 MiB, as the thesis set does
# (a 1 GiB region at six RTTs, five repetitions and five sides is hours).
# Figures: plots/fuse-*.gp (./run.sh plot); table: approaches/fuse/README.md.
set -euo pipefail
. "$(dirname "$0")/functions.sh"
quick=${MEMSYNC_QUICK:-0}
M=$MEMSYNC_BUILD/memsync
F=$MEMSYNC_SRC/approaches/fuse
D=$MEMSYNC_SRC/approaches/delta/workloads
size=256M tsize=1G msize=256M rep=5 frep=20 rtts=rtt-0ms,rtt-2ms,rtt-6ms,rtt-10ms,rtt-20ms,rtt-40ms
inflights="1 2 4 8 16 32 64 128 256" chunks="4k 16k 64k 256k 1m"
if [ "$quick" = 1 ]; then
	size=64M tsize=128M msize=64M rep=1 frep=3 rtts=rtt-0ms,rtt-20ms inflights="1 16" chunks="4k 1m"
fi
r25=$F/profiles/rtt-25ms.conf
writers="$D/migrate-writer-50mbit.conf,$F/workloads/migrate-writer-80mbit.conf,migrate-writer,$D/migrate-writer-800mbit.conf"
bench_parts MEMSYNC_FUSE_PARTS "targets first rtt write inflight chunk prefetch migrate"
bench_params "size=$size" "target_size=$tsize" "migrate_size=$msize" "repeat=$rep" "first_access_repeat=$frep" \
	"rtts=$rtts" "inflights=$inflights" "chunks=$chunks"

# One `memsync run` into FILE (which starts with the bench's header); a
# failed run is named at the end and makes the bench exit 1.
run() { # FILE ARGS...
	local f=$1
	shift
	bench_header "$MEMSYNC_OUT/$f"
	bench_run "$f: memsync run $*" "$M" run -q "$@" --out "$MEMSYNC_OUT/$f"
}

# One repetition side by side: fuse direct, fuse managed, uffd + baselines.
side() { # FILE ARGS...
	local f=$1
	shift
	run "$f" -a fuse -o mount=direct "$@"
	run "$f" -a fuse -o mount=managed "$@"
	run "$f" -a uffd,memory,disk "$@"
}

# First access: with the default 1 MiB requests the faulting page comes with
# its READ of up to 1 MiB (and the readahead window's other READs); with
# 4 KiB requests (max_io, ra, chunk) it is one small round trip.
small=(-o max_io=4k -o ra=4k -o chunk=4k)

# The targets first (the table in approaches/fuse/README.md).
if bench_want targets; then
for _ in $(seq "$rep"); do
	for m in managed direct; do
		run fuse-targets.jsonl -a fuse -o mount=$m -w seq-read -p local -s "$tsize" --netem none
	done
	run fuse-targets.jsonl -a fuse -o mount=managed -o prefetch=notify_store -o wait_pull=on -w seq-read -p local \
		-s "$tsize" --netem none
	run fuse-targets.jsonl -a fuse -o mount=managed -w seq-read -p wan,"$r25" -s "$tsize" -o inflight=64
done
for m in managed direct; do
	run fuse-targets.jsonl -a fuse -o mount=$m -w first-access -p local,wan -s 8M -r "$frep"
	run fuse-targets.jsonl -a fuse -o mount=$m "${small[@]}" -w first-access -p local,wan -s 1M -r "$frep"
done
run fuse-targets.jsonl --migrate -a fuse -w "$F/workloads/migrate-writer-80mbit.conf" -p wan -s "$tsize" -r "$rep"
fi

# Side by side vs RTT: first access, reads, writes.
if bench_want first; then
	side fuse-first.jsonl -w first-access -p "$rtts" -s 8M -r "$frep"
	for m in managed direct; do
		# 1 MiB: the verification reads the region through 4 KiB requests (8 MiB at 40 ms: 80 s a run)
		run fuse-first.jsonl -a fuse -o mount=$m "${small[@]}" -w first-access -p "$rtts" -s 1M -r "$frep"
	done
fi
for _ in $(seq "$rep"); do
	if bench_want rtt; then side fuse-rtt.jsonl -w seq-read,rand-read -p "$rtts" -s "$size"; fi
	if bench_want write; then side fuse-write.jsonl -w seq-write,rand-write -p "$rtts" -s "$size"; fi
done

# Managed reads vs background pull requests in flight.
if bench_want inflight; then
	for n in $inflights; do
		run fuse-inflight.jsonl -a fuse -o mount=managed -o inflight=$n -w seq-read -p rtt-0ms,rtt-20ms,"$r25" \
			-s "$size" -r "$rep"
	done
fi

# Chunking on the local side (the engine fetches chunks of c) vs on the
# remote side (the engine fetches 1 MiB, the server splits it into c).
if bench_want chunk; then
	for c in $chunks; do
		run fuse-chunk.jsonl -a fuse -o chunk=$c -o prefetch=off -w seq-read,rand-read -p rtt-2ms -s "$size" -r "$rep"
		run fuse-chunk.jsonl -a fuse -o chunk=1m -o server_chunk=$c -o prefetch=off -w seq-read,rand-read \
			-p rtt-2ms -s "$size" -r "$rep"
	done
fi

# Prefetch modes, both mounts: one warm-up and $rep runs per configuration
# and scenario, as inflight and chunk do (a warm-up in every repetition, as
# the side-by-side parts do, made the part 85 minutes, 40 of them warm-ups).
if bench_want prefetch; then
	for m in managed direct; do
		for p in off readahead notify_store; do
			run fuse-prefetch.jsonl -a fuse -o mount=$m -o prefetch=$p -w seq-read,rand-read,zipf-read \
				-p rtt-2ms,wan -s "$size" -r "$rep"
		done
	done
fi

# Migration: downtime vs RTT, and vs writer rate at wan, next to uffd and delta.
if bench_want migrate; then
	for a in fuse uffd delta; do
		wd=() # delta's region file in tmpfs (functions.sh)
		[ $a = delta ] && wd=(--workdir "$bench_delta_workdir")
		run fuse-migrate.jsonl --migrate -a $a "${wd[@]}" -w migrate-writer -p "$rtts" -s "$msize" -r "$rep"
		run fuse-migrate.jsonl --migrate -a $a "${wd[@]}" -w "$writers" -p wan -s "$msize" -r "$rep"
	done
fi
echo "fuse bench: results in $MEMSYNC_OUT/fuse-*.jsonl" >&2
bench_finish
