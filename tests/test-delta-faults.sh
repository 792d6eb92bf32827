#!/usr/bin/env bash
# delta faults: a destination that drops the connection mid-cycle (the
# source reconnects, exchanges hashes and ends identical), a receiver killed
# with SIGKILL during a push and restarted, bad frames (garbage, wrong
# version, truncated, oversized), and a source file that shrinks and grows.
. "$(dirname "$0")/functions.sh"
requires jq cmp
requires_root

D=$MEMSYNC_BUILD/memsync-delta
[ -x "$D" ] || fail "memsync-delta not built"
out=$TMPDIR_TEST/r.jsonl

# 1. In the runner: the receiver drops the connection after 5 chunks of a cycle.
memsync run -v -a delta -w rand-write-1pct -s 16M -o chunk=4k -o fault_drop=5 --workdir "$TMPDIR_TEST" \
	--out "$out" 2>"$TMPDIR_TEST/log" || fail "fault_drop run failed: $(tail -1 "$out" | jq -r .reason)"
grep -q "dropping the connection mid-cycle" "$TMPDIR_TEST/log" || fail "the fault was not injected"
grep -q "reconnecting with a hash exchange" "$TMPDIR_TEST/log" || fail "the source did not reconnect"
jq -e -s '.[1].status == "pass" and .[1].verified_remote == "yes"' "$out" >/dev/null || fail "not identical after the fault"

# 2. Standalone receiver on loopback.
src=$TMPDIR_TEST/src dst=$TMPDIR_TEST/dst
head -c 64M /dev/urandom >"$src"
port=$((20000 + RANDOM % 20000))
rpid=
start_recv() { "$D" recv 127.0.0.1 $port "$dst" "$@" 2>>"$TMPDIR_TEST/recv.log" & rpid=$!; sleep 0.3; }
stop_recv() { [ -n "$rpid" ] && kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null; rpid=; }
cleanup_fn stop_recv
push() { "$D" push 127.0.0.1 $port "$src" --chunk 4k "$@"; }

start_recv --drop-after 100
rc=0; push >/dev/null 2>"$TMPDIR_TEST/push.err" || rc=$?
[ "$rc" = 1 ] || fail "push through a dropping receiver must fail"
grep -qE "fault injection|reset|closed" "$TMPDIR_TEST/push.err" || fail "unclear error: $(cat "$TMPDIR_TEST/push.err")"
[ -e "$dst.incomplete" ] || fail "a copy left mid-cycle must be marked incomplete"
push >/dev/null || fail "push after the drop failed"
cmp -s "$src" "$dst" || fail "not identical after reconnecting"
[ ! -e "$dst.incomplete" ] || fail "the incomplete marker survived a complete cycle"

# Receiver killed (SIGKILL) during a push, then restarted: the next push
# exchanges hashes and ends identical.
head -c 32M /dev/urandom | dd of="$src" conv=notrunc status=none
push --workers 1 >/dev/null 2>&1 &
ppid=$!
sleep 0.05
kill -9 "$rpid"; wait "$rpid" 2>/dev/null; rpid=
wait "$ppid" || true
start_recv
j=$(push) || fail "push after the restart failed"
cmp -s "$src" "$dst" || fail "not identical after the receiver restart"
echo "restart: $(echo "$j" | jq -c '{chunks_sent, bytes_sent, hash_exchange_bytes}')"
# Steady state: nothing changed, nothing sent but the hashes.
j=$(push) || fail "idle push failed"
[ "$(echo "$j" | jq .chunks_sent)" = 0 ] || fail "an unchanged file must send no chunks: $j"

# 3. The source shrinks (not chunk aligned) and grows.
truncate -s $((40 * 1048576 + 123)) "$src"
push >/dev/null || fail "push of a shrunk file failed"
cmp -s "$src" "$dst" || fail "destination did not shrink with the source"
head -c 5000000 /dev/urandom >>"$src"
push >/dev/null || fail "push of a grown file failed"
cmp -s "$src" "$dst" || fail "destination did not grow with the source"
truncate -s 0 "$src"
push >/dev/null || fail "push of an empty file failed"
[ "$(stat -c %s "$dst")" = 0 ] || fail "destination not emptied"
head -c 1M /dev/urandom >"$src"
push >/dev/null && cmp -s "$src" "$dst" || fail "refill failed"

# 4. Bad frames: the receiver rejects them with a reason and keeps serving.
frame() { # magic version type len
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x00\\x00\\x%02x\\x%02x\\x%02x\\x%02x' \
		0x4d 0x53 0x44 0x4c "$1" "$2" $(($3 & 255)) $((($3 >> 8) & 255)) $((($3 >> 16) & 255)) $((($3 >> 24) & 255)))"
}
send_raw() { exec 3<>/dev/tcp/127.0.0.1/$port; cat >&3; sleep 0.3; exec 3>&-; }
printf 'GET / HTTP/1.0\r\n\r\n' | send_raw
frame 2 1 24 | send_raw
frame 1 5 $((16 << 20)) | send_raw
frame 1 1 24 | send_raw          # truncated HELLO
frame 1 1 7 | send_raw           # HELLO of the wrong length
sleep 0.3
for why in "bad magic" "unsupported protocol version" "bad payload length" "truncated frame"; do
	grep -q "$why" "$TMPDIR_TEST/recv.log" || fail "receiver did not report '$why': $(tail -5 "$TMPDIR_TEST/recv.log")"
done
kill -0 "$rpid" || fail "receiver died on bad input"
push >/dev/null && cmp -s "$src" "$dst" || fail "receiver unusable after bad input"
echo "delta faults: drop mid-cycle, kill+restart, shrink/grow, bad frames: ok"
