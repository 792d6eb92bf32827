#!/usr/bin/env bash
# Ctrl-C ends a run cleanly: exit 130, a record saying so, no process left.
. "$(dirname "$0")/functions.sh"
requires jq

out=$TMPDIR_TEST/r.jsonl
cat > "$TMPDIR_TEST/long.conf" <<'CONF'
pattern = random
access_size = 4k
duration = 60s
CONF
"$MEMSYNC_BUILD/memsync" run -q -a memory -w "$TMPDIR_TEST/long.conf" -s 16M --out "$out" &
pid=$!
sleep 2
kill -INT $pid
rc=0
wait $pid || rc=$?
[ "$rc" = 130 ] || fail "expected exit 130 after SIGINT, got $rc"
jq -e -s 'any(.[]; .type == "scenario" and .status == "interrupted")' "$out" >/dev/null ||
	fail "no interrupted record"
sleep 0.5
pgrep -f "memsync run -q -a memory -w $TMPDIR_TEST/long.conf" >/dev/null && fail "a memsync process survived"
echo "interrupt: clean exit 130, record written, nothing left running"
