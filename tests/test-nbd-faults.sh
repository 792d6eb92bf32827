#!/usr/bin/env bash
# nbd approach, faults (VM lab when this kernel has no nbd module): the
# seeder is killed in the middle of the leecher's pull (test hook
# fault_seeder_kill): the scenario fails with the reason, the writer is
# never resumed on the destination, the killed process's device is
# disconnected by the harness (it says so), nothing is left connected.
# A remote that does not exist, a device index that does not exist and
# bad option values fail with one clear line each.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq
requires_kernel_feature nbd
requires_approach nbd
out=$TMPDIR_TEST/r.jsonl
# Fail if any /dev/nbdX is still connected.
no_device_left() {
	local p
	for p in /sys/block/nbd*/pid; do
		[ -e "$p" ] && fail "$(dirname "$p") is still connected (pid $(cat "$p")) $1"
	done
	return 0
}
rc=0
memsync run --warmup 0 -a nbd -w migrate-writer -p local -s 16M --migrate -o chunk=256k -o fault_seeder_kill=4m \
	--out "$out" >"$TMPDIR_TEST/log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "seeder killed: expected exit 1, got $rc: $(tail -5 "$TMPDIR_TEST/log")"
jq -e 'select(.type == "scenario") | select(.status == "fail" and (.reason | test("local process (died|is gone|exited)")))' \
	"$out" >/dev/null || fail "seeder killed: reason not recorded: $(jq -c 'select(.type == "scenario") | .reason' "$out")"
jq -e 'select(.type == "scenario") | .migration.downtime_s < 0 and .migration.resume_first_access_ns == 0' "$out" >/dev/null ||
	fail "the writer was resumed after the seeder died"
grep -q "disconnected /dev/nbd[0-9]* left connected by dead process" "$TMPDIR_TEST/log" ||
	grep -q "attached by ioctl" "$TMPDIR_TEST/log" ||
	fail "the killed seeder's device was not reported: $(grep nbd "$TMPDIR_TEST/log" | tail -5)"
no_device_left "after the killed seeder"
# A remote nobody serves: a failed scenario naming it, nothing connected.
rc=0
memsync run -q --warmup 0 -a nbd -w seq-read -p local -s 8M -o remote=nbd://127.0.0.1:1/ \
	--out "$TMPDIR_TEST/r2.jsonl" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "unreachable remote: expected exit 1, got $rc"
jq -e 'select(.type == "scenario") | .reason | test("127.0.0.1")' "$TMPDIR_TEST/r2.jsonl" >/dev/null ||
	fail "unreachable remote: reason does not name it"
# A device that does not exist.
rc=0
memsync run -q --warmup 0 -a nbd -w seq-read -p local -s 8M -o index=999 -o attach=ioctl \
	--out "$TMPDIR_TEST/r3.jsonl" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "missing device: expected exit 1, got $rc"
jq -e 'select(.type == "scenario") | .reason | test("nbd999")' "$TMPDIR_TEST/r3.jsonl" >/dev/null ||
	fail "missing device: reason does not name it: $(jq -c 'select(.type == "scenario") | .reason' "$TMPDIR_TEST/r3.jsonl")"
# Bad option values name the option.
for o in mount=nfs ready=never conns=99 chunk=3k; do
	rc=0
	memsync run -q --warmup 0 -a nbd -w seq-read -p local -s 8M -o "$o" --out "$TMPDIR_TEST/r4.jsonl" \
		>"$TMPDIR_TEST/log4" 2>&1 || rc=$?
	[ "$rc" = 2 ] || fail "-o $o: expected exit 2, got $rc"
	grep -q "option ${o%%=*}" "$TMPDIR_TEST/log4" || fail "-o $o: the option is not named: $(cat "$TMPDIR_TEST/log4")"
done
no_device_left "at the end"
echo "nbd faults: killed seeder failed cleanly and its device was disconnected; bad remote/device/options named"
