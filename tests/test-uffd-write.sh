#!/usr/bin/env bash
# uffd write tracking (write-protect mode): mixed and write workloads; sync
# pushes dirty chunks and the harness verifies the remote copy byte by byte.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq
requires_approach uffd
out=$TMPDIR_TEST/r.jsonl
run() { memsync_run_logged "$out" -a uffd "$@"; }
run -w mixed,rand-write,seq-write,rand-write-1pct,hotset-rw -s 32M
run -w mixed,rand-write-10pct -s 16M -o chunk=4k -o threads=4 -o prefetch=off
run -w mixed,hotset-rw -s 32M -o chunk=1m -o push_interval=50ms
run -w rand-write-1pct -s 16M -o push_interval=30 # a bare number is ms
n=$(jq -s '[.[] | select(.type == "scenario")] | length' "$out")
bad=$(jq -c -s '[.[] | select(.type == "scenario" and (.status != "pass" or .verified_remote != "yes"))]' "$out")
[ "$n" = 10 ] || fail "expected 10 scenario records, got $n"
[ "$bad" = "[]" ] || fail "runs not passed with the remote copy verified: $bad"
pushed=$(jq -s '[.[] | select(.type == "scenario") | .approach_stats.bytes_pushed > 0 and .approach_stats.chunks_dirty > 0] | all' "$out")
[ "$pushed" = true ] || fail "a write run pushed nothing"
# Without write tracking the remote copy must NOT match after writes: the
# verification has to catch it (proves it is not vacuous).
rc=0
memsync run -q -a uffd -w rand-write-1pct -s 16M -o wp=off --out "$TMPDIR_TEST/off.jsonl" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "wp=off with writes: expected exit 1 (remote copy differs), got $rc"
jq -e -s '.[] | select(.type == "scenario") | select(.status == "fail" and (.reason | test("remote copy differs")))' \
	"$TMPDIR_TEST/off.jsonl" >/dev/null || fail "wp=off: no 'remote copy differs' failure recorded"
# Bad option values fail with the option named.
expect_fail 2 "option push_interval=soon: " \
	memsync run -a uffd -w seq-write -s 16M -o push_interval=soon --out "$TMPDIR_TEST/bad.jsonl"
expect_fail 2 "option wp=maybe: expected one of" \
	memsync run -a uffd -w seq-write -s 16M -o wp=maybe --out "$TMPDIR_TEST/bad.jsonl"
expect_fail 2 "option retries=0: must be 1 .. 20" \
	memsync run -a uffd -w seq-write -s 16M -o retries=0 --out "$TMPDIR_TEST/bad.jsonl"
echo "uffd write: $n runs passed, remote copies verified; wp=off caught; bad options named"
