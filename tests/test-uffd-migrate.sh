#!/usr/bin/env bash
# uffd post-copy migration: the writer runs against a uffd region on the
# source, the destination resumes after one fault and pulls the rest; the
# destination's whole region is verified against the content model.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq
requires_approach uffd
out=$TMPDIR_TEST/r.jsonl
run() { memsync_run_logged "$out" --migrate -a uffd -w migrate-writer "$@"; }
run -s 64M
run -s 32M -p lan -o chunk=4k -o prefetch=off
run -s 32M -o chunk=1m -o threads=4 -o pullers=4
expect_scenarios "$out" 3
n=3
bad=$(jq -c -s '[.[] | select(.type == "scenario" and (.status != "pass" or .verified != true
	or .migration.downtime_s <= 0 or .migration.dest_faults < 1
	or .migration.dest_bytes_pulled != .size))]' "$out")
[ "$bad" = "[]" ] || fail "migrations not passed/verified or counters wrong: $bad"
jq -r 'select(.type == "scenario") | "downtime \(.migration.downtime_s * 1000 | floor) ms, dest faults \(.migration.dest_faults)"' "$out"
# The runner assigns the migration port; the old workaround option is gone.
expect_fail 2 "option 'mig_port_offset' is not known" \
	memsync run --migrate -a uffd -w migrate-writer -s 16M -o mig_port_offset=1 --out "$TMPDIR_TEST/m.jsonl"
echo "uffd migrate: $n migrations passed and verified on the destination"
