#!/usr/bin/env bash
# nbd approach, the two-hop migration over real devices (VM lab when this
# kernel has no nbd module): `memsync-nbd chain` runs A -> B -> C, each side
# a process with its own /dev/nbdX on loopback: A a managed mount of the
# remote copy with a live writer, B a leecher pulling from A that seeds C
# after the first hop, the writer resumed on B and then on C; C's device is
# verified byte for byte against the content model (every write on A and
# B, then the writes on C). Then the second hop's seeder (B) is killed in the
# middle of C's pull: the chain fails naming it, C keeps what it has and
# fails its pull clearly, the writer is never resumed on C, B's device is
# disconnected. Afterwards no device is connected and no process or
# directory is left.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq
requires_kernel_feature nbd
requires_approach nbd
T=$TMPDIR_TEST
cleanup_fn "$MEMSYNC_BUILD/memsync-nbd cleanup >/dev/null 2>&1"
# The devices still connected (those the kernel records a pid for).
connected() { (cd /sys/block && ls -d nbd*/pid 2>/dev/null | sed 's,/pid$,,' | tr '\n' ' '); }
# Fail if any /dev/nbdX is still connected, saying when.
no_device_left() { [ -z "$(connected)" ] || fail "still connected $1: $(connected)"; }
chain() { "$MEMSYNC_BUILD/memsync-nbd" chain "$@"; }

# Two hops with a live writer, C verified.
rc=0
chain --size 16M --rate 2m --phase 400ms -o chunk=64k >"$T/ok.json" 2>"$T/ok.log" || rc=$?
[ "$rc" = 0 ] || fail "chain A -> B -> C: exit $rc: $(cat "$T/ok.json") $(tail -5 "$T/ok.log")"
jq -e '.type == "nbd-chain" and .status == "pass" and .verified and .resumed_on_c' "$T/ok.json" >/dev/null ||
	fail "chain not verified: $(cat "$T/ok.json")"
jq -e '.writes.a > 0 and .writes.b > 0 and .writes.c > 0' "$T/ok.json" >/dev/null ||
	fail "the writer did not write on each of A, B and C: $(jq -c .writes "$T/ok.json")"
jq -e '[.hop1, .hop2] | all(.done and .bytes_moved > 0 and .bytes_resent > 0 and .downtime_ms > 0)' \
	"$T/ok.json" >/dev/null || fail "a hop moved nothing or handed over no dirty chunk: $(jq -c '[.hop1, .hop2]' "$T/ok.json")"
no_device_left "after the chain"

# The same over the ioctl attach, with precopy=none (the dirty chunks pulled after the resume).
rc=0
chain --size 8M --rate 1m --phase 300ms -o attach=ioctl -o precopy=none -o chunk=256k >"$T/ioctl.json" \
	2>"$T/ioctl.log" || rc=$?
[ "$rc" = 0 ] && jq -e '.status == "pass" and .verified' "$T/ioctl.json" >/dev/null ||
	fail "chain with attach=ioctl, precopy=none: exit $rc: $(cat "$T/ioctl.json") $(tail -5 "$T/ioctl.log")"
no_device_left "after the ioctl chain"

# B, the second hop's seeder, killed in the middle of C's pull (netlink: a
# killed process's device stays connected until the cleanup).
rc=0
chain --size 16M --rate 2m --phase 300ms --kill-seeder 8m -o chunk=64k -o retry=2s -o attach=netlink >"$T/kill.json" \
	2>"$T/kill.log" || rc=$?
[ "$rc" = 1 ] || fail "seeder B killed: expected exit 1, got $rc: $(cat "$T/kill.json") $(tail -5 "$T/kill.log")"
jq -e '.status == "fail" and (.reason | test("seeder B was killed by signal 9 mid-pull")) and
	(.reason | test("; C: .+; the writer was not resumed on C")) and (.resumed_on_c | not) and .hop1.done' \
	"$T/kill.json" >/dev/null ||
	fail "seeder B killed: wrong outcome: $(cat "$T/kill.json")"
grep -q "disconnected /dev/nbd[0-9]* left connected by dead process" "$T/kill.log" ||
	fail "B's device was not reported disconnected: $(grep -i nbd "$T/kill.log" | tail -5)"
no_device_left "after the killed seeder"

pgrep -f "memsync-nbd chain" >/dev/null && fail "a memsync-nbd process is left: $(pgrep -af 'memsync-nbd chain')"
ls -d /tmp/memsync-nbd-chain.* 2>/dev/null && fail "work directories left"
echo "nbd chain: A -> B -> C verified on C (netlink and ioctl); killed seeder B failed cleanly, its device disconnected"
