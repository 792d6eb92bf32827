#!/usr/bin/env bash
# delta pre-copy migration: the writer runs on host 0, the destination on
# host 2 receives rounds until the dirty set is small, then the writer is
# suspended, a final round runs, and the destination's workload resumes and
# verifies the whole region. Both dirty detections.
. "$(dirname "$0")/functions.sh"
requires jq
requires_root

out=$TMPDIR_TEST/r.jsonl
for d in hash pagemap; do
	rm -f "$out"
	memsync run -q --migrate --migrate-after 1s -a delta -w migrate-writer -s 32M -o dirty=$d \
		--workdir "$TMPDIR_TEST" --out "$out" || fail "migration ($d) failed: $(tail -1 "$out" | jq -r .reason)"
	jq -e -s '[.[] | select(.type == "scenario")][0] | .status == "pass" and .migration.downtime_s > 0
		and .migration.rounds >= 2 and .migration.bytes_moved >= 33554432' "$out" >/dev/null ||
		fail "migration ($d): bad record: $(jq -c -s '.[1].migration' "$out")"
	echo "migrate $d: $(jq -c -s '.[1].migration | {downtime_s, rounds, bytes_moved, bytes_resent}' "$out")"
done
# Over the lan profile too (fewer, larger rounds).
rm -f "$out"
memsync run -q --migrate --migrate-after 1s -a delta -w migrate-writer -s 16M -p lan -o dirty=pagemap \
	--workdir "$TMPDIR_TEST" --out "$out" || fail "migration over lan failed: $(tail -1 "$out" | jq -r .reason)"
echo "delta migrate: passed"
