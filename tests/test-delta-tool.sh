#!/usr/bin/env bash
# memsync-delta on the command line: --help prints the usage on stdout and
# exits 0, a usage error prints it on stderr and exits 2; a copy that `recv`
# creates takes the permission bits of the pushed file, an existing copy
# keeps its own (the engine side, and 0644 without a mode sent, is in
# tests/unit/test_delta_engine.c); push --chunking cdc brings an older copy
# with shifted bytes up to date sending only the chunks around the edits.
. "$(dirname "$0")/functions.sh"
requires cmp stat jq

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
expect_fail 2 "usage:" "$D" push 127.0.0.1 1 "$TMPDIR_TEST/x" --chunking rolling
echo "$out" | grep -Eq "crc32c \((sse4\.2|table)\)" || fail "--help must say how crc32c is computed: $out"

# 2. The mode of the copy, over loopback.
umask 022
src=$TMPDIR_TEST/src
head -c 3M /dev/urandom >"$src"
port=$((20000 + RANDOM % 20000))
rpid=
stop_recv() { [ -n "$rpid" ] && kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null; rpid=; }
cleanup_fn stop_recv
# push_to DST [PUSH OPTIONS]: a receiver for one session into DST, one push of $src.
push_to() {
	local dst=$1; shift
	"$D" recv 127.0.0.1 $port "$dst" --once 2>>"$TMPDIR_TEST/recv.log" & rpid=$!
	"$D" push 127.0.0.1 $port "$src" --chunk 4k "$@" >"$TMPDIR_TEST/push.json" ||
		fail "push into $dst failed: $(tail -3 "$TMPDIR_TEST/recv.log")"
	wait "$rpid" || fail "receiver into $dst failed: $(tail -3 "$TMPDIR_TEST/recv.log")"
	rpid=
	cmp -s "$src" "$dst" || fail "$dst differs from the source"
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

# 3. Content-defined chunks: the copy is an older version (bytes since
# inserted and deleted, which shift the rest of the file); only the chunks
# around the edits travel, and the rebuilt copy keeps its mode.
old=$TMPDIR_TEST/old
cp "$src" "$old" && chmod 640 "$old"
{ head -c 100000 "$old"; head -c 3000 /dev/urandom; tail -c +100001 "$old" | head -c 1500000; tail -c +1609001 "$old"; } >"$src"
for avg in 4k 16k 64k; do
	cp -p "$old" "$TMPDIR_TEST/cdc-$avg"
	push_to "$TMPDIR_TEST/cdc-$avg" --chunking cdc --cdc-avg $avg --hash crc32c
	jq -e '.mode == "cdc" and .hash == "crc32c" and .bytes_sent > 3000 and .bytes_sent < 600000' \
		"$TMPDIR_TEST/push.json" >/dev/null || fail "cdc $avg: expected the chunks around two edits: $(cat "$TMPDIR_TEST/push.json")"
	[ "$(stat -c %a "$TMPDIR_TEST/cdc-$avg")" = 640 ] || fail "cdc: the rebuilt copy must keep its mode"
	[ ! -e "$TMPDIR_TEST/cdc-$avg.cdc-new" ] || fail "cdc: the rebuild file was left behind"
done
# Fixed chunks on the same pair resend everything after the insertion.
cp -p "$old" "$TMPDIR_TEST/fixed"
push_to "$TMPDIR_TEST/fixed" --chunk 4k
jq -e '.bytes_sent > 2500000' "$TMPDIR_TEST/push.json" >/dev/null || fail "fixed chunks: expected most of the file resent"
expect_fail 2 "exclude each other" "$D" push 127.0.0.1 1 "$src" --chunking cdc --whole-file
echo "memsync-delta: --help, usage errors, the copy's mode and content-defined chunks: ok"
