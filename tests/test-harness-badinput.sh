#!/usr/bin/env bash
# Bad input: a clear one-line error, exit code 2, nothing started.
. "$(dirname "$0")/functions.sh"

expect_fail 2 "unknown approach 'nosuch'" memsync run -a nosuch
expect_fail 2 "unknown command" memsync frobnicate
expect_fail 2 "not a positive multiple of 4096" memsync run -a memory -s 1000
expect_fail 2 "unknown unit" memsync run -a memory -s 12q
expect_fail 2 "negative" memsync run -a memory -s -4k
expect_fail 2 "cannot open .*nosuch" memsync run -a memory -w nosuch
expect_fail 2 "not known to any selected approach" memsync run -a memory -o chunk=4k
expect_fail 2 "expected KEY=VALUE" memsync run -a memory -o chunk
expect_fail 2 "bad --repeat" memsync run -a memory -r 0
expect_fail 2 "auto" memsync run -a memory --netem carrier-pigeon

cat > "$TMPDIR_TEST/bad.conf" <<'CONF'
description = broken
pattern = sequential
access_size = 64k
writes = 150%
CONF
expect_fail 2 "bad.conf:4: .*above 100" memsync run -a memory -w "$TMPDIR_TEST/bad.conf"
printf 'pattern = spiral\n' > "$TMPDIR_TEST/bad2.conf"
expect_fail 2 "bad2.conf:1: unknown pattern 'spiral'" memsync run -a memory -w "$TMPDIR_TEST/bad2.conf"
printf 'pattern = random\ncolour = blue\n' > "$TMPDIR_TEST/bad3.conf"
expect_fail 2 "bad3.conf:2: unknown key 'colour'" memsync run -a memory -w "$TMPDIR_TEST/bad3.conf"
printf 'description = bad\ndelay = -5ms\n' > "$TMPDIR_TEST/badprof.conf"
expect_fail 2 "badprof.conf:2:" memsync run -a memory -p "$TMPDIR_TEST/badprof.conf"

# Nothing was started: no results file was written by the failed runs.
[ ! -e "$TMPDIR_TEST/r.jsonl" ] || fail "a results file appeared"
memsync --help | grep -q "memsync run" || fail "--help does not explain run"
memsync help memory | grep -q "options" || fail "help APPROACH does not list options"
memsync help nosuch 2>/dev/null && fail "help for an unknown approach must fail"
echo "bad input: every case rejected with exit 2 and a clear message"
