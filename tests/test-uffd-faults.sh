#!/usr/bin/env bash
# uffd under faults: the remote dies mid-run -> the run fails with a clear
# message within a bounded time (exit 1, nothing reported as a pass); the
# link drops silently -> the request timeout fails it; bad sizes and bad
# options -> clear errors. Both handler modes (local process, in-process).
. "$(dirname "$0")/functions.sh"
requires_root
requires jq ip pgrep
requires_approach uffd

# Bad sizes: exit 2 before anything is mapped.
expect_fail 2 "multiple of 4096" memsync run -a uffd -w seq-read -s 5000
expect_fail 2 "multiple of 4096" memsync run -a uffd -w seq-read -s 0
# Bad options: exit 2 naming the option, before any scenario (check_options).
expect_fail 2 "chunk=3k" memsync run -a uffd -w seq-read -s 1M -o chunk=3k --out "$TMPDIR_TEST/b.jsonl"
expect_fail 2 "prefetch=bogus" memsync run -a uffd -w seq-read -s 1M -o prefetch=bogus --out "$TMPDIR_TEST/b.jsonl"
expect_fail 2 "not known" memsync run -a uffd -w seq-read -s 1M -o nosuch=1
expect_fail 2 "handler=thread" memsync run -a uffd -w seq-read -s 1M -o handler=thread --out "$TMPDIR_TEST/b.jsonl"
expect_fail 2 "chunk=3k" memsync run -a uffd -w seq-read -s 1M -o handler=inprocess -o chunk=3k --out "$TMPDIR_TEST/b.jsonl"

# Kill the remote process (the child of memsync in host 1's namespace) or
# drop the link once the run has started, then expect a bounded failure.
# $1: kill|drop, $2: handler (process|inprocess), rest: extra options.
disrupt() {
	local how=$1 handler=$2; shift 2
	local out=$TMPDIR_TEST/$how-$handler.jsonl log=$TMPDIR_TEST/$how-$handler.log
	# A slow link and no prefetch: the workload keeps faulting for many seconds.
	"$MEMSYNC_BUILD/memsync" run --warmup 0 -a uffd -w seq-read-4k -p metro -s 256M -o prefetch=off -o chunk=4k -o handler="$handler" "$@" \
		--timeout 120s --out "$out" >"$log" 2>&1 &
	local mpid=$! t0 p victim=
	for _ in $(seq 100); do
		sleep 0.1
		for p in $(pgrep -P "$mpid"); do
			[ "$(ip netns identify "$p" 2>/dev/null)" = "ms$mpid-h1" ] && victim=$p
		done
		[ -n "$victim" ] && grep -q "\[1/1\]" "$log" && break
	done
	[ -n "$victim" ] || { kill "$mpid"; wait "$mpid"; fail "$how/$handler: remote process not found"; }
	# The handler's connections (demand + 2 background) are up: the workload
	# faults from now on (a slow start under load must not be mistaken for it).
	for _ in $(seq 300); do
		[ "$(ip netns exec "ms$mpid-h1" ss -Htn state established '( sport = :10809 )' 2>/dev/null | wc -l)" -ge 3 ] &&
			break
		sleep 0.1
	done
	sleep 1.5
	t0=$(date +%s)
	if [ "$how" = kill ]; then
		kill -9 "$victim"
	else
		ip -n "ms$mpid-h1" link set v0 down || fail "drop: cannot take the link down"
	fi
	local rc=0
	wait "$mpid" || rc=$?
	local took=$(($(date +%s) - t0))
	[ "$rc" = 1 ] || fail "$how/$handler: expected exit 1, got $rc: $(tail -5 "$log")"
	[ "$took" -le 40 ] || fail "$how/$handler: took $took s to fail"
	jq -e -s '[.[] | select(.type == "scenario" and .status == "pass")] | length == 0' "$out" >/dev/null ||
		fail "$how/$handler: a run was reported as a pass"
	local reason
	reason=$(jq -r -s '.[] | select(.type == "scenario") | .reason' "$out")
	local pat="did not answer"
	[ "$how" = kill ] && pat="remote|connection"
	echo "$reason" | grep -qE "$pat" || fail "$how/$handler: unclear reason: $reason"
	echo "$how ($handler handler): failed after $took s: $reason"
}
for h in process inprocess; do
	disrupt kill $h
	disrupt drop $h -o timeout=3s
done
echo "uffd faults: bad input rejected, remote death and link drop fail cleanly (both handler modes)"
