#!/usr/bin/env bash
# Bad input: a clear one-line error, exit code 2, nothing started.
. "$(dirname "$0")/functions.sh"

expect_fail 2 "unknown approach 'nosuch'" memsync run -a nosuch
expect_fail 2 "unknown command" memsync frobnicate
expect_fail 2 "not a positive multiple of 4096" memsync run -a memory -s 1000
expect_fail 2 "unknown unit" memsync run -a memory -s 12q
expect_fail 2 "-s/--size needs a value, got '-4k'" memsync run -a memory -s -4k
expect_fail 2 "cannot open .*nosuch" memsync run -a memory -w nosuch
expect_fail 2 "option 'chunk' is not known to any selected approach \(memory; " memsync run -a memory -o chunk=4k
expect_fail 2 "option 'nosuchkey' is not known to any selected approach \(memory, disk; " \
	memsync run -a memory,disk -o nosuchkey=1
expect_fail 2 "expected KEY=VALUE" memsync run -a memory -o chunk
expect_fail 2 "bad --repeat" memsync run -a memory -r 0
expect_fail 2 "auto" memsync run -a memory --netem carrier-pigeon
expect_fail 2 "bad --warmup 'x'" memsync run -a memory --warmup x
expect_fail 2 "bad --warmup '101'" memsync run -a memory --warmup 101
expect_fail 2 "bad --require-idle '0'" memsync run -a memory --require-idle=0
expect_fail 2 "empty --approach" memsync run -a ,

# An option whose value is missing does not swallow the next option.
out=$TMPDIR_TEST/r.jsonl
expect_fail 2 "-s/--size needs a value, got '--out'" memsync run -a memory -s --out "$out"
expect_fail 2 "--out needs a value, got '-q'" memsync run -a memory --out -q
expect_fail 2 "-o/--opt needs a value, got '-a'" memsync run -o -a memory --out "$out"
expect_fail 2 "--warmup needs a value, got '-1'" memsync run -a memory --warmup -1 --out "$out"
expect_fail 2 "--workdir needs a value, got '--out'" memsync run -a memory --workdir --out "$out"
expect_fail 2 "usage: memsync cleanup" memsync cleanup --workdir --bogus

# Unusable --out and --workdir: refused before anything starts.
mkdir "$TMPDIR_TEST/adir"
expect_fail 2 "--out .*adir is a directory" memsync run -a memory -s 4M --out "$TMPDIR_TEST/adir"
expect_fail 2 "cannot write the results to /proc/memsync-x" memsync run -a memory -s 4M --out /proc/memsync-x
expect_fail 2 "cannot write the results to $TMPDIR_TEST/missing/r.jsonl: No such file" \
	memsync run -a memory -s 4M --out "$TMPDIR_TEST/missing/r.jsonl"
expect_fail 2 "--workdir /nonexistent-memsync: No such file" memsync run -a memory -s 4M --workdir /nonexistent-memsync --out "$out"
touch "$TMPDIR_TEST/afile"
expect_fail 2 "--workdir .*afile is not a directory" memsync run -a memory -s 4M --workdir "$TMPDIR_TEST/afile" --out "$out"
for f in "$TMPDIR_TEST"/adir/*; do [ -e "$f" ] && fail "a results file appeared in the --out directory: $f"; done

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
[ ! -e "$out" ] || fail "a results file appeared"
memsync --help | grep -q "memsync run" || fail "--help does not explain run"
memsync help memory | grep -q "options" || fail "help APPROACH does not list options"
memsync help nosuch 2>/dev/null && fail "help for an unknown approach must fail"
echo "bad input: every case rejected with exit 2 and a clear message"
