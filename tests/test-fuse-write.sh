#!/usr/bin/env bash
# fuse writes: every write workload on both mount styles in every prefetch
# mode, then the background push, write-through (writeback=off), a file
# cache and spliced requests. The workload msyncs, sync() makes the writes
# durable; the harness verifies the mapping and the remote copy.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq
requires_approach fuse
out=$TMPDIR_TEST/w.jsonl
wd=$TMPDIR_TEST/work
mkdir -p "$wd"
run() { memsync_run_logged "$out" -a fuse --workdir "$wd" "$@"; }
for m in direct managed; do
	for p in off readahead notify_store; do
		run -w seq-write,rand-write,mixed,hotset-rw -s 32M -o mount=$m -o prefetch=$p
	done
done
run -w rand-write-1pct,mixed -s 32M -o chunk=4k -o push_interval=50ms
run -w seq-write,rand-write -s 32M -o mount=direct -o writeback=off
run -w seq-write,mixed -s 32M -o writeback=off -o cache=file -o splice=all
# Stores racing READs: small requests make many READs land in chunks being
# stored (fuse_store.c fences the store off them; a store that overwrote a
# page the workload wrote fails the verification).
run -w seq-write,mixed,hotset-rw -s 64M -r 2 -o prefetch=notify_store -o ra=16k -o max_io=16k -o inflight=4
expect_scenarios "$out" 36
n=36
bad=$(jq -c -s '[.[] | select(.type == "scenario" and (.status != "pass" or .verified != true or .verified_remote != "yes"
	or .approach_stats.bytes_pushed == 0))] | map({workload, options, status, reason})' "$out")
[ "$bad" = "[]" ] || fail "runs not passed, verified or pushed: $bad"
no_mount_left "$wd"
echo "fuse write: $n runs passed, verified locally and on the remote"
