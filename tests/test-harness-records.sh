#!/usr/bin/env bash
# One result-record shape: `memsync header --bench NAME` writes the header
# `memsync run` writes (same fields, plus "bench"); every bench script starts
# each results file with it and names a failed run and exits 1; run.sh says
# which option lacks its value.
. "$(dirname "$0")/functions.sh"
requires jq

# ---- memsync header ------------------------------------------------------
h=$TMPDIR_TEST/h.jsonl
memsync header --bench x --netem user --command "bench x --y" --param n=3 --param r=0.5 --param t=true \
	--param s="local lan" >"$h" || fail "memsync header failed"
[ "$(wc -l <"$h")" = 1 ] || fail "the header is not one line: $(cat "$h")"
for k in memsync_version git_commit date host kernel cpu_model ncpu mem_bytes compiler cflags build_type \
	netem_driver command params; do
	jq -e --arg k "$k" 'has($k) and .[$k] != null and .[$k] != ""' "$h" >/dev/null || fail "header lacks $k: $(cat "$h")"
done
jq -e '.type == "header" and .bench == "x" and .netem_driver == "user" and .command == "bench x --y"
	and .params == {n: 3, r: 0.5, t: true, s: "local lan"}
	and .ncpu >= 1 and (.loadavg."1min" | type) == "number"' "$h" >/dev/null ||
	fail "header fields or typed params wrong: $(cat "$h")"
expect_fail 2 "usage: memsync header" memsync header
expect_fail 2 "expected KEY=VALUE" memsync header --bench x --param novalue
expect_fail 2 "unknown netem driver" memsync header --bench x --netem pigeon
expect_fail 1 "cannot write the header record: No space left" sh -c "'$MEMSYNC_BUILD/memsync' header --bench x >/dev/full"

# The same keys as the header of `memsync run` (which has no "bench").
run=$TMPDIR_TEST/run.jsonl
memsync run -q -a memory -w seq-read -s 4M --out "$run" || fail "memsync run failed"
[ "$(head -1 "$run" | jq -c 'keys')" = "$(jq -c 'del(.bench) | keys' "$h")" ] ||
	fail "bench and run headers differ: $(head -1 "$run" | jq -c keys) vs $(jq -c 'del(.bench) | keys' "$h")"

# ---- every bench script writes it and fails loudly -------------------------
n=0
for f in "$MEMSYNC_SRC"/harness/bench/*.sh; do
	grep -q '^# summary: ' "$f" || continue # functions.sh, not an experiment
	n=$((n + 1))
	for call in '. "$(dirname "$0")/functions.sh"' bench_header bench_run bench_finish; do
		grep -qF -- "$call" "$f" || fail "$(basename "$f") does not use $call"
	done
done
[ "$n" -ge 5 ] || fail "expected at least 5 bench scripts, found $n"

# baselines, quick: each file starts with the bench header, then the runs'.
out=$TMPDIR_TEST/bench
mkdir -p "$out"
MEMSYNC_OUT=$out MEMSYNC_QUICK=1 bash "$MEMSYNC_SRC/harness/bench/baselines.sh" 2>"$TMPDIR_TEST/bench.log" ||
	fail "baselines bench failed: $(tail -5 "$TMPDIR_TEST/bench.log")"
for f in baselines.jsonl baselines-first.jsonl; do
	[ -s "$out/$f" ] || fail "$f not written"
	head -1 "$out/$f" | jq -e '.type == "header" and .bench == "baselines" and .params.quick == true
		and .params.size == "128M"' >/dev/null || fail "$f does not start with the bench header: $(head -1 "$out/$f")"
	[ "$(head -1 "$out/$f" | jq -c 'del(.bench) | keys')" = "$(head -1 "$run" | jq -c keys)" ] ||
		fail "$f: header keys differ from memsync run's"
	jq -e -s '[.[] | select(.type == "scenario")] | length > 0 and all(.status == "pass")' "$out/$f" >/dev/null ||
		fail "$f: no passed scenarios"
done

# An injected failure (a flipped byte) fails every run: the bench names them and exits 1.
rc=0
MEMSYNC_INJECT_CORRUPTION=4096 MEMSYNC_OUT=$out MEMSYNC_QUICK=1 bash "$MEMSYNC_SRC/harness/bench/baselines.sh" \
	>"$TMPDIR_TEST/bad.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a bench with failed runs must exit 1 (got $rc): $(tail -5 "$TMPDIR_TEST/bad.log")"
grep -q 'baselines bench: 2 run(s) failed' "$TMPDIR_TEST/bad.log" &&
	grep -q 'FAILED: baselines-first.jsonl: first access (exit 1)' "$TMPDIR_TEST/bad.log" ||
	fail "the failed runs are not named: $(tail -5 "$TMPDIR_TEST/bad.log")"

# ---- run.sh: an option without its value -----------------------------------
for o in --size --approach --out -o; do
	expect_fail 2 "option '$o' needs a value" "$MEMSYNC_SRC/run.sh" "$o"
done
expect_fail 2 "option '--profile' needs a value" "$MEMSYNC_SRC/run.sh" bench baselines --profile
echo "records: header fields and shape checked; $n bench scripts write it; failed runs exit 1"
