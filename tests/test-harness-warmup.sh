#!/usr/bin/env bash
# Warm-up runs and the load average: every scenario gets --warmup N runs
# (default 1) recorded with "warmup": true before its -r repeats; every record
# carries the 1-minute load average before and after; a busy machine gets a
# warning, and --require-idle waits for an idle one or refuses (exit 2).
# The load is read from a stand-in for /proc/loadavg (MEMSYNC_PROC_LOADAVG).
. "$(dirname "$0")/functions.sh"
requires jq

# Default: one warm-up per scenario, before its measured run.
out=$TMPDIR_TEST/default.jsonl
"$MEMSYNC_BUILD/memsync" run -q -a memory,disk -w seq-read,rand-write -s 4M --workdir "$TMPDIR_TEST" --out "$out" 2>/dev/null ||
	fail "default run failed"
jq -e -s '[.[] | select(.type == "scenario")] | length == 8
	and ([.[] | select(.warmup == true)] | length) == 4
	and ([.[] | select(.warmup == false)] | length) == 4
	and all(.status == "pass")
	and ([.[] | .warmup] == [true, false, true, false, true, false, true, false])
	and ([.[] | [.approach, .workload]] | . as $a | [range(0; 8; 2)] | all($a[.] == $a[. + 1]))' \
	<(tail -n +2 "$out") >/dev/null || fail "expected warm-up, measured for each of 4 scenarios: $(jq -c '[.approach, .workload, .warmup]' "$out")"
[ "$(head -1 "$out" | jq .params.warmup)" = 1 ] || fail "the header does not say warmup 1"
jq -e -s '.[1:] | all(.loadavg_before >= 0 and .loadavg_after >= 0)' "$out" >/dev/null || fail "records lack loadavg_*"

# --warmup 2 -r 3: two warm-ups then three repeats; the summary filter keeps three.
out=$TMPDIR_TEST/w2.jsonl
memsync run -q --warmup 2 -r 3 -a memory -s 4M --out "$out" 2>/dev/null || fail "--warmup 2 -r 3 failed"
[ "$(jq -c -s '[.[] | select(.type == "scenario") | .warmup]' "$out")" = '[true,true,false,false,false]' ] ||
	fail "--warmup 2 -r 3: $(jq -c -s '[.[] | select(.type == "scenario") | .warmup]' "$out")"
[ "$(jq -s '[.[] | select(.type == "scenario" and .warmup != true)] | length' "$out")" = 3 ] || fail "summary filter"

# A skipped scenario gets no warm-up runs.
out=$TMPDIR_TEST/skip.jsonl
memsync run -q --warmup 1 --migrate -a memory -w migrate-writer -s 4M --out "$out" 2>/dev/null || fail "skip run failed"
jq -e -s '[.[] | select(.type == "scenario")] | length == 1 and .[0].status == "skip" and .[0].warmup == false
	and (.[0].reason | test("does not implement migration"))' "$out" >/dev/null || fail "skip: $(cat "$out")"

# A busy machine: a warning before each run, and the load in the record.
echo "7.25 6.00 5.00 3/400 12345" >"$TMPDIR_TEST/busy"
echo "0.00 0.00 0.00 1/400 12345" >"$TMPDIR_TEST/idle"
out=$TMPDIR_TEST/busy.jsonl
MEMSYNC_PROC_LOADAVG=$TMPDIR_TEST/busy memsync run -a memory -s 4M --out "$out" 2>"$TMPDIR_TEST/log" || fail "busy run failed"
grep -q "warning: load average 7.25 is above" "$TMPDIR_TEST/log" || fail "no warning on a busy machine: $(cat "$TMPDIR_TEST/log")"
jq -e -s '.[1] | .loadavg_before == 7.25 and .loadavg_after == 7.25' "$out" >/dev/null || fail "loadavg not recorded: $(tail -1 "$out")"
MEMSYNC_PROC_LOADAVG=$TMPDIR_TEST/idle memsync run -a memory -s 4M --out "$TMPDIR_TEST/idle.jsonl" 2>"$TMPDIR_TEST/log" ||
	fail "idle run failed"
grep -q "warning: load average" "$TMPDIR_TEST/log" && fail "a warning on an idle machine: $(cat "$TMPDIR_TEST/log")"

# --require-idle: refuse a machine that stays busy (exit 2, nothing written) ...
out=$TMPDIR_TEST/refused.jsonl
rc=0
t0=$(date +%s)
MEMSYNC_PROC_LOADAVG=$TMPDIR_TEST/busy memsync run -a memory -s 4M --require-idle=2 --out "$out" 2>"$TMPDIR_TEST/log" || rc=$?
[ "$rc" = 2 ] || fail "--require-idle on a busy machine: expected exit 2, got $rc: $(cat "$TMPDIR_TEST/log")"
[ $(( $(date +%s) - t0 )) -ge 2 ] || fail "--require-idle=2 did not wait 2 s"
grep -q "not idle: load average 7.25 after waiting 2 s" "$TMPDIR_TEST/log" || fail "no reason: $(cat "$TMPDIR_TEST/log")"
[ ! -e "$out" ] || fail "a refused run left a results file"
# ... wait for one that becomes idle ...
(sleep 2; cp "$TMPDIR_TEST/idle" "$TMPDIR_TEST/changing") &
cp "$TMPDIR_TEST/busy" "$TMPDIR_TEST/changing"
MEMSYNC_PROC_LOADAVG=$TMPDIR_TEST/changing memsync run -a memory -s 4M --require-idle=60 --out "$out" 2>"$TMPDIR_TEST/log" ||
	fail "--require-idle did not run once the machine was idle: $(cat "$TMPDIR_TEST/log")"
wait
grep -q "waiting up to 60 s for an idle machine" "$TMPDIR_TEST/log" || fail "no waiting message: $(cat "$TMPDIR_TEST/log")"
[ "$(head -1 "$out" | jq .params.require_idle_s)" = 60 ] || fail "the header does not say require_idle_s"
# ... and run at once on an idle one (default bound 120 s).
MEMSYNC_PROC_LOADAVG=$TMPDIR_TEST/idle memsync run -a memory -s 4M --require-idle --out "$TMPDIR_TEST/i2.jsonl" 2>/dev/null ||
	fail "--require-idle on an idle machine failed"
echo "warm-up: runs recorded and flagged; load average recorded, warned about, waited for"
