#!/usr/bin/env bash
# The baselines under the runner: every shipped workload passes verification,
# records carry what README promises, and a corrupted byte fails the run.
. "$(dirname "$0")/functions.sh"
requires jq

out=$TMPDIR_TEST/r.jsonl
wls=$(memsync list workloads | awk 'NR > 1 && $1 != "migrate-writer" {print $1}' | paste -sd, -)
memsync run -q -a memory,disk -w "$wls" -s 8M --workdir "$TMPDIR_TEST" --out "$out" || fail "baseline run failed"

[ "$(head -1 "$out" | jq -r .type)" = header ] || fail "first record is not the header"
for k in memsync_version git_commit date kernel cpu_model compiler cflags netem_driver; do
	[ "$(head -1 "$out" | jq -r ".$k // empty")" != "" ] || fail "header lacks $k"
done
n=$(jq -s '[.[] | select(.type == "scenario")] | length' "$out")
want=$(( 2 * $(echo "$wls" | tr , '\n' | wc -l) ))
[ "$n" = "$want" ] || fail "expected $want scenario records, got $n"
jq -e -s 'all(.[] | select(.type == "scenario"); .status == "pass" and .verified == true
	and .throughput_mb_s > 0 and .read_latency.count + .write_latency.count == .accesses
	and .cpu_s.total >= 0)' "$out" >/dev/null || fail "a baseline scenario did not pass with full metrics"
# Writes happened where the workload writes, and reads where it reads.
jq -e -s '[.[] | select(.workload == "seq-write")] | all(.bytes_written == 8388608 and .bytes_read == 0)' "$out" >/dev/null ||
	fail "seq-write did not write the whole region"

# Verification is real: one flipped byte fails the scenario and is named.
bad=$TMPDIR_TEST/bad.jsonl
rc=0
MEMSYNC_INJECT_CORRUPTION=12345 memsync run -q -a memory,disk -w seq-read -s 4M --workdir "$TMPDIR_TEST" --out "$bad" || rc=$?
[ "$rc" = 1 ] || fail "a corrupted region must fail the run with exit 1 (got $rc)"
jq -e -s '[.[] | select(.type == "scenario")] | length == 2 and all(.status == "fail" and .verified == false
	and (.reason | test("byte 12345")))' "$bad" >/dev/null || fail "corruption not reported with its offset: $(cat "$bad")"
echo "baselines: $n scenarios verified; corruption detected"
