#!/usr/bin/env bash
# memsync-delta on the command line: --help prints the usage on stdout and
# exits 0, a usage error prints it on stderr and exits 2; a copy that `recv`
# creates takes the permission bits of the pushed file, an existing copy
# keeps its own (the engine side, and 0644 without a mode sent, is in
# tests/unit/test_delta_engine.c).
. "$(dirname "$0")/functions.sh"
requires cmp stat

D=$MEMSYNC_BUILD/memsync-delta
[ -x "$D" ] || fail "memsync-delta not built"

# 1. --help and usage errors.
out=$("$D" --help 2>"$TMPDIR_TEST/help.err") || fail "memsync-delta --help exited $?"
echo "$out" | grep -q "^usage: memsync-delta recv" || fail "--help did not print the usage on stdout: $out"
[ ! -s "$TMPDIR_TEST/help.err" ] || fail "--help wrote to stderr: $(cat "$TMPDIR_TEST/help.err")"
"$D" push 127.0.0.1 1 /nonexistent --help | grep -q "^usage:" || fail "--help after a subcommand"
rc=0; "$D" --no-such-option >"$TMPDIR_TEST/bad.out" 2>"$TMPDIR_TEST/bad.err" || rc=$?
[ "$rc" = 2 ] || fail "an unknown option must exit 2, not $rc"
[ ! -s "$TMPDIR_TEST/bad.out" ] || fail "a usage error wrote to stdout"
grep -q "^usage:" "$TMPDIR_TEST/bad.err" || fail "a usage error must print the usage on stderr"
expect_fail 2 "usage:" "$D" push 127.0.0.1 1
expect_fail 2 "usage:" "$D" recv 127.0.0.1 1 "$TMPDIR_TEST/x" --bogus

# 2. The mode of the copy, over loopback.
umask 022
src=$TMPDIR_TEST/src
head -c 3M /dev/urandom >"$src"
port=$((20000 + RANDOM % 20000))
rpid=
stop_recv() { [ -n "$rpid" ] && kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null; rpid=; }
cleanup_fn stop_recv
# push_to DST: a receiver for one session into DST, one push of $src.
push_to() {
	"$D" recv 127.0.0.1 $port "$1" --once 2>>"$TMPDIR_TEST/recv.log" & rpid=$!
	"$D" push 127.0.0.1 $port "$src" --chunk 4k >/dev/null || fail "push into $1 failed: $(tail -3 "$TMPDIR_TEST/recv.log")"
	wait "$rpid" || fail "receiver into $1 failed: $(tail -3 "$TMPDIR_TEST/recv.log")"
	rpid=
	cmp -s "$src" "$1" || fail "$1 differs from the source"
}
for mode in 644 640 600 755; do
	chmod $mode "$src"
	rm -f "$TMPDIR_TEST/new-$mode"
	push_to "$TMPDIR_TEST/new-$mode"
	got=$(stat -c %a "$TMPDIR_TEST/new-$mode")
	[ "$got" = $mode ] || fail "a copy created for a $mode source is $got"
done
chmod 644 "$src"
: >"$TMPDIR_TEST/existing" && chmod 600 "$TMPDIR_TEST/existing"
push_to "$TMPDIR_TEST/existing"
[ "$(stat -c %a "$TMPDIR_TEST/existing")" = 600 ] || fail "an existing copy must keep its mode"
echo "memsync-delta: --help, usage errors and the copy's mode: ok"
