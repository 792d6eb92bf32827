#!/usr/bin/env bash
# fuse reads: every read workload on both mount styles (direct, managed) in
# every prefetch mode (off, readahead, notify_store), then the options that
# change the data path (chunk, splice, max_io, threads, clone_fd, cache
# file, pull order, readahead window, write-through). The harness verifies
# every run (the mapping and the remote copy against the content model);
# nothing may stay mounted.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq
requires_approach fuse
out=$TMPDIR_TEST/r.jsonl
wd=$TMPDIR_TEST/work
mkdir -p "$wd"
run() { memsync_run_logged "$out" -a fuse --workdir "$wd" "$@"; }
for m in direct managed; do
	for p in off readahead notify_store; do
		run -w seq-read,rand-read,zipf-read,stride-read -s 32M -o mount=$m -o prefetch=$p
	done
done
run -w seq-read-4k,rand-read -s 16M -o chunk=4k -o prefetch=notify_store -o splice=all -o max_io=64k
run -w rand-read,header-first -s 32M -o chunk=64k -o order=header-first -o cache=file -o threads=4 -o clone_fd=off
run -w seq-read,zipf-read -s 32M -o order=follow -o ra=0 -o max_background=4 -o inflight=4 -o conns=1
run -w seq-read -s 32M -o mount=direct -o splice=off -o writeback=off -o prefetch=notify_store -o inflight=2
expect_scenarios "$out" 31
n=31
bad=$(jq -c -s '[.[] | select(.type == "scenario" and (.status != "pass" or .verified != true or .verified_remote != "yes"
	or .approach_stats.bytes_pulled == 0 or (.workload == "seq-read" and .approach_stats.bytes_pulled < .size)))]
	| map({workload, options, status, reason, pulled: .approach_stats.bytes_pulled})' "$out")
[ "$bad" = "[]" ] || fail "runs not passed, verified or complete: $bad"
no_mount_left "$wd"
echo "fuse read: $n runs passed and verified, nothing left mounted"
