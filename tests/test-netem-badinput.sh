#!/bin/bash
# test-netem-badinput.sh - memsync-net rejects bad profiles and usage with
# exit 2 and file:line, says when driver none ignores a profile, probes the
# drivers (exit 0/77), lists profiles in natural order, and a run whose
# process was killed leaves namespaces that the next run removes, saying so.
. "$(dirname "$0")/functions.sh"
[ -x "$MEMSYNC_BUILD/memsync-net" ] || fail "memsync-net not built in $MEMSYNC_BUILD"

bad() { # name, body, line, pattern
	printf 'description = bad\n%s\n' "$2" > "$TMPDIR_TEST/$1.conf"
	expect_fail 2 "$TMPDIR_TEST/$1.conf:$3: .*$4" memsync-net check "$TMPDIR_TEST/$1.conf"
}
bad negdelay 'delay = -1ms' 2 negative
bad unit 'delay = 3fortnights' 2 'unknown unit'
bad jitter $'delay = 1ms\njitter = 5ms' 3 jitter
bad loss 'loss = 101%' 2 'above 100%'
bad key 'bandwidth = 1gbit' 2 "unknown key 'bandwidth'"
bad limit $'rate = unlimited\nlimit = 500' 3 'finite rate'
bad syntax 'delay: 5ms' 2 "expected 'key = value'"
bad rate0 'rate = 0' 2 'rate 0: write unlimited'
bad binary $'delay = 1ms\n\x01\x02rate' 3 'binary data'
expect_fail 2 "$TMPDIR_TEST/negdelay.conf:2:" memsync-net up --profile "$TMPDIR_TEST/negdelay.conf" --state "$TMPDIR_TEST/s"
expect_fail 2 "unknown profile 'nope'" memsync-net up --profile nope --state "$TMPDIR_TEST/s"
expect_fail 2 "unknown netem driver 'fast'" memsync-net up --profile wan --driver fast --state "$TMPDIR_TEST/s"
expect_fail 2 "unknown command" memsync-net frobnicate
expect_fail 2 "missing command" memsync-net
expect_fail 2 "up needs --profile" memsync-net up
memsync-net check "$MEMSYNC_SRC/netem/profiles/wan.conf" >/dev/null || fail "wan.conf does not validate"
memsync-net list | grep -q '^transatlantic ' || fail "list does not show transatlantic"
memsync-net --help | grep -q 'exit codes' || fail "--help says nothing about exit codes"
memsync-net list | awk '{ print $1 }' | grep -x 'rtt-[0-9]*ms' | sort -c -V || fail "list not in natural order"
expect_fail 2 "unknown netem driver" memsync-net probe --driver fast
rc=0; out=$(memsync-net probe 2>&1) || rc=$?
case $rc in 0|77) ;; *) fail "probe exit $rc: $out" ;; esac
echo "$out" | grep -q '^user ' || fail "probe says nothing about the user driver: $out"
expect_fail 2 "needs --driver and --profile" memsync-net ceiling --driver user
echo "ok: bad input rejected with file:line" >&2

# A killed run leaves namespaces; the next run removes them.
requires_root
requires ip
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

# Driver none ignores a shaping profile, and says so.
state=$TMPDIR_TEST/none.state
out=$(memsync-net up --profile wan --driver none --state "$state" 2>&1 >/dev/null) || fail "up --driver none failed: $out"
memsync-net down --state "$state" || fail "down failed"
echo "$out" | grep -q "warning: driver none applies no profile" || fail "no warning for wan on driver none: $out"
echo "ok: driver none warns that it ignores the profile" >&2

state=$TMPDIR_TEST/killed.state
memsync-net up --profile lan --driver user --state "$state" >/dev/null || fail "up failed"
pid=$(sed -n 's/^pid = //p' "$state")
emulator=$(pgrep -P "$pid" -x memsync-link) || fail "no link emulator under pid $pid"
kill -9 "$pid"
for _ in $(seq 50); do grep -q '^State:.*[ZX]' "/proc/$pid/status" 2>/dev/null || [ ! -d "/proc/$pid" ] && break; sleep 0.1; done
ip netns list | grep -q "^ms$pid-h0" || fail "expected the killed run's namespaces to remain"
state2=$TMPDIR_TEST/next.state
out=$(memsync-net up --profile local --driver user --state "$state2" 2>&1 >/dev/null) || fail "next up failed: $out"
memsync-net down --state "$state2" || fail "down failed"
echo "$out" | grep -q "removed stale namespace ms$pid-h0" || fail "no message about the stale namespace: $out"
if ip netns list | grep -q "^ms$pid-"; then fail "stale namespaces of pid $pid still there"; fi
for _ in $(seq 30); do [ -d "/proc/$emulator" ] || break; sleep 0.1; done
[ -d "/proc/$emulator" ] && ! grep -q '^State:.*Z' "/proc/$emulator/status" &&
	fail "the killed run's link emulator (pid $emulator) is still running"
echo "ok: stale namespaces of killed pid $pid removed by the next run" >&2
