#!/usr/bin/env bash
# summary: the two baselines (memory, disk) on every read and write workload, 1 GiB, 5 repeats
# runtime: about 4 minutes (quick: about 1 minute)
#
# The lines every figure carries: what local memory and a local file (page
# cache dropped) achieve on this machine. Also the thesis's first-chunk
# latency measurement: one 4 KiB read at offset 0, 100 runs. Every scenario
# starts with one warm-up run (memsync run's default), left out of the figures.
set -euo pipefail
. "$(dirname "$0")/functions.sh"
quick=${MEMSYNC_QUICK:-0}
size=1G repeat=5 first_runs=100
[ "$quick" = 1 ] && size=128M repeat=2 first_runs=10
bench_params "size=$size" "repeat=$repeat" "first_runs=$first_runs"
out=$MEMSYNC_OUT/baselines.jsonl first=$MEMSYNC_OUT/baselines-first.jsonl
bench_header "$out"
bench_run "baselines.jsonl: memory, disk on every read and write workload" \
	"$MEMSYNC_BUILD/memsync" run -q -a memory,disk \
	-w seq-read,seq-read-4k,rand-read,zipf-read,stride-read,seq-write,rand-write,mixed \
	-s "$size" -r "$repeat" --out "$out"
# First-access latency as the thesis measured it: one 4 KiB read at offset 0.
bench_header "$first"
bench_run "baselines-first.jsonl: first access" \
	"$MEMSYNC_BUILD/memsync" run -q -a memory,disk -w first-access -s 64M -r "$first_runs" --out "$first"
echo "baselines: results in $out and $first" >&2
bench_finish
