#!/usr/bin/env bash
# Results that cannot be written fail the run: `--out /dev/full` exits 1
# before any scenario, and a record that hits a full disk mid-run (here:
# the file-size limit) exits 1 before the next scenario.
. "$(dirname "$0")/functions.sh"
requires jq

# The header cannot be written: exit 1, no scenario started.
rc=0
memsync run -a memory -s 4M --out /dev/full >"$TMPDIR_TEST/log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "--out /dev/full: expected exit 1, got $rc: $(cat "$TMPDIR_TEST/log")"
grep -q "cannot write the results to /dev/full: No space left on device" "$TMPDIR_TEST/log" ||
	fail "--out /dev/full: no clear message: $(cat "$TMPDIR_TEST/log")"
grep -q '\[1/' "$TMPDIR_TEST/log" && fail "--out /dev/full: a scenario started: $(cat "$TMPDIR_TEST/log")"

# Room for the header but not for the first record (RLIMIT_FSIZE; SIGXFSZ
# ignored, so write() fails with EFBIG as on a full disk).
ref=$TMPDIR_TEST/ref.jsonl
memsync run -a memory -w seq-read,rand-read -s 4M --out "$ref" 2>/dev/null || fail "reference run failed"
hdr=$(head -1 "$ref" | wc -c)
rec=$(sed -n 2p "$ref" | wc -c)
blocks=$(( hdr / 1024 + 1 ))
[ $(( hdr + rec )) -gt $(( blocks * 1024 )) ] || fail "test setup: header $hdr + record $rec bytes fit in $blocks KiB"
out=$TMPDIR_TEST/lim.jsonl    # same length as $ref: the same header size
rc=0
(trap '' XFSZ; ulimit -f "$blocks"; exec "$MEMSYNC_BUILD/memsync" run --warmup 0 -a memory -w seq-read,rand-read -s 4M \
	--out "$out") >"$TMPDIR_TEST/log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "full disk mid-run: expected exit 1, got $rc: $(cat "$TMPDIR_TEST/log")"
grep -q "cannot write the results to $out: File too large" "$TMPDIR_TEST/log" ||
	fail "full disk mid-run: no clear message: $(cat "$TMPDIR_TEST/log")"
grep -q '\[1/2\]' "$TMPDIR_TEST/log" || fail "the first scenario did not run: $(cat "$TMPDIR_TEST/log")"
grep -q '\[2/2\]' "$TMPDIR_TEST/log" && fail "a scenario ran after a result was lost: $(cat "$TMPDIR_TEST/log")"
echo "output: unwritable results fail the run with exit 1 before the next scenario"
