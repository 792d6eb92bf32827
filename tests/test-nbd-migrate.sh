#!/usr/bin/env bash
# nbd approach, two-phase migration (VM lab when this kernel has no nbd
# module): the leecher's device pulls from the seeder while the writer runs;
# finalize hands over the dirty list; the destination's view is verified
# byte for byte after the resume. Both with the pre-copy pull completed
# first (precopy=wait) and at once (precopy=none, the dirty chunks pulled
# after the resume); afterwards no device is connected.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq
requires_kernel_feature nbd
requires_approach nbd
out=$TMPDIR_TEST/r.jsonl
memsync_run_logged "$out" --warmup 0 -a nbd -w migrate-writer -p local -s 16M --migrate -r 2 -o chunk=256k
memsync_run_logged "$out" --warmup 0 -a nbd -w migrate-writer -p local -s 16M --migrate -o precopy=none -o attach=ioctl
n=$(jq -s '[.[] | select(.type == "scenario" and .status == "pass")] | length' "$out")
[ "$n" = 3 ] || fail "expected 3 passed migrations: $(jq -c 'select(.type == "scenario") | {status, reason}' "$out")"
jq -e -s '[.[] | select(.type == "scenario") | .migration | .rounds == 2 and .bytes_moved > 0 and .downtime_s > 0] |
	all' "$out" >/dev/null || fail "migration counters missing: $(jq -c 'select(.type == "scenario") | .migration' "$out")"
# The writer wrote during the migration: some chunks were handed over dirty.
jq -e -s '[.[] | select(.type == "scenario") | .migration.bytes_resent > 0] | any' "$out" >/dev/null ||
	fail "no dirty chunk was handed over"
for p in /sys/block/nbd*/pid; do
	[ -e "$p" ] && fail "$(dirname "$p") is still connected (pid $(cat "$p"))"
done
echo "nbd migrate: $n migrations with a live writer passed, destination verified; nothing left"
