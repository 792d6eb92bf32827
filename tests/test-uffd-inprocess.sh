#!/usr/bin/env bash
# uffd handler modes: the same reads and writes with the handler threads in
# the local process (handler=process, uffd handed over with SCM_RIGHTS) and
# in the workload process (handler=inprocess, sync forwarded over a UNIX
# socket). Every run is verified by the harness byte for byte (local view and
# remote copy); the in-process runs must report the same counters' shape.
# Migration with handler=inprocess is refused with a clear error.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq
requires_approach uffd
out=$TMPDIR_TEST/r.jsonl
run() { memsync_run_logged "$out" -a uffd "$@"; }
for h in process inprocess; do
	run -w seq-read,rand-read,zipf-read -s 32M -o handler=$h
	run -w seq-read-4k,rand-read -s 16M -o handler=$h -o chunk=4k -o prefetch=off -o threads=4
	run -w rand-read,header-first -s 32M -o handler=$h -o chunk=1m -o order=header-first -o pullers=4
	run -w mixed,rand-write,seq-write -s 32M -o handler=$h
	run -w mixed,hotset-rw -s 16M -o handler=$h -o chunk=4k -o threads=2 -o push_interval=50ms
done
expect_scenarios "$out" 24
n=24
bad=$(jq -c -s '[.[] | select(.type == "scenario" and (.status != "pass" or .verified != true or .verified_remote != "yes"))]' "$out")
[ "$bad" = "[]" ] || fail "runs not passed and verified: $bad"
# The in-process handler reports its counters through the local process.
jq -e -s '[.[] | select(.type == "scenario" and .options.handler == "inprocess") | .approach_stats.bytes_pulled > 0] | all' \
	"$out" >/dev/null || fail "an in-process run reports nothing pulled"
jq -e -s '[.[] | select(.type == "scenario" and .options.handler == "inprocess" and .write_fraction > 0)
           | .approach_stats.bytes_pushed > 0 and .approach_stats.chunks_dirty > 0] | all' \
	"$out" >/dev/null || fail "an in-process write run reports nothing pushed"
# The handler runs in the workload process: the local process burns no CPU.
jq -e -s '[.[] | select(.type == "scenario" and .options.handler == "inprocess") | .cpu_s.local < 0.05] | all' \
	"$out" >/dev/null || fail "in-process runs: the local process used CPU (is the handler really in the workload?)"
# Without write tracking the in-process remote copy must differ after writes (not vacuous).
rc=0
memsync run -q -a uffd -w rand-write-1pct -s 16M -o handler=inprocess -o wp=off --out "$TMPDIR_TEST/off.jsonl" \
	>/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "inprocess wp=off with writes: expected exit 1, got $rc"
jq -e -s '.[] | select(.type == "scenario") | select(.status == "fail" and (.reason | test("remote copy differs")))' \
	"$TMPDIR_TEST/off.jsonl" >/dev/null || fail "inprocess wp=off: no 'remote copy differs' failure recorded"
# Migration stays process-only.
expect_fail 2 "handler=inprocess is not supported with --migrate" \
	memsync run --migrate -a uffd -w migrate-writer -s 16M -o handler=inprocess --out "$TMPDIR_TEST/m.jsonl"
echo "uffd handler modes: $n runs passed and verified (process and inprocess); wp=off caught; migration refused"
