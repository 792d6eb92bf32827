#!/usr/bin/env bash
# fuse two-phase migration: the writer runs on the source's FUSE file while
# the destination's managed mount pulls from the source; at the switch the
# chunks written since the pull began are invalidated on the destination
# and pulled first. The destination's whole mapping is verified against the
# content model; the record carries downtime, rounds and bytes.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq
requires_approach fuse
out=$TMPDIR_TEST/m.jsonl
wd=$TMPDIR_TEST/work
mkdir -p "$wd"
run() { memsync_run_logged "$out" --migrate -a fuse -w migrate-writer --workdir "$wd" "$@"; }
run -s 64M -o mount=managed
run -s 64M -o mount=direct
run -s 32M -p lan -o chunk=64k -o prefetch=notify_store
run -s 32M -o chunk=4k -o prefetch=off --migrate-after 1s
expect_scenarios "$out" 4
n=4
bad=$(jq -c -s '[.[] | select(.type == "scenario" and (.status != "pass" or .verified != true
	or .migration.downtime_s <= 0 or .migration.rounds != 2 or .migration.bytes_moved < .size
	or .migration.bytes_resent > .migration.bytes_moved or .migration.dest_bytes_pulled <= 0))]
	| map({options, status, reason, migration})' "$out")
[ "$bad" = "[]" ] || fail "migrations not passed/verified or counters wrong: $bad"
no_mount_left "$wd"
jq -r 'select(.type == "scenario") | "\(.options.mount // "managed") chunk \(.options.chunk // "1m"): downtime \(.migration.downtime_s * 1000 | floor) ms, re-sent \(.migration.bytes_resent) of \(.migration.bytes_moved) bytes"' "$out"
echo "fuse migrate: $n migrations passed and verified on the destination"
