#!/usr/bin/env bash
# fuse under faults and bad input:
#   - bad -o values end the run with exit 2 naming the option;
#   - an unreachable -o remote fails the scenario with a clear reason;
#   - the daemon (the local process) killed mid-run: the run fails at once
#     (the workload gets EIO/SIGBUS, never hangs), the mount is removed;
#   - the remote killed mid-read, or the link dropped silently: READs are
#     retried within a bound, then fail; the run fails with the reason
#     (both mount styles);
#   - a run killed whole (runner and children) leaves a mount of a dead
#     process: the next run's cleanup removes it and says so.
. "$(dirname "$0")/functions.sh"
requires_root
requires jq ip pgrep
requires_approach fuse
wd=$TMPDIR_TEST/work
mkdir -p "$wd"
M=$MEMSYNC_BUILD/memsync

for bad in mount=bogus prefetch=always chunk=3k chunk=2m max_io=2m threads=0 conns=99 retry=soon timeout=0 \
	splice=maybe order=random writeback=perhaps remote=http://x/ ra=5000; do
	expect_fail 2 "${bad%%=*}=" memsync run -a fuse -w seq-read -s 1M -o "$bad"
done
expect_fail 2 "not known" memsync run -a fuse -w seq-read -s 1M -o nosuch=1
expect_fail 1 "127.0.0.1:1|Connection refused|connect" memsync run -a fuse -w seq-read -s 1M --workdir "$wd" \
	-o remote=nbd://127.0.0.1:1/ --out "$TMPDIR_TEST/b.jsonl"

# The local process of run $1 that serves its FUSE mount (named memsync-ms<pid>).
daemon_of() {
	local p
	for p in $(awk '$3 == "fuse.memsync" {print $1}' /proc/mounts | sed -n 's/^memsync-ms//p'); do
		[ "$(ps -o ppid= -p "$p" 2>/dev/null | tr -d ' ')" = "$1" ] && echo "$p"
	done
}

# stop_run PID - end a run this test started, if it still runs (its runner
# tears the scenario down), and wait for it.
stop_run() {
	kill "$1" 2>/dev/null || return 0
	wait "$1" 2>/dev/null || true
}

# Start a slow reading run in the background: $run_pid, $run_log, $run_out.
start_run() {
	run_out=$TMPDIR_TEST/$1.jsonl run_log=$TMPDIR_TEST/$1.log
	shift
	"$M" run --warmup 0 -a fuse -w seq-read-4k -p metro -s 256M -o prefetch=off -o chunk=64k --workdir "$wd" --timeout 120s \
		--out "$run_out" "$@" >"$run_log" 2>&1 &
	run_pid=$!
	cleanup_fn "stop_run $run_pid"
}

# Kill $1 (daemon | remote) of a run with mount style $2, or drop its link
# (drop); expect a bounded failure.
disrupt() {
	local what=$1 mount=$2 victim= rc=0 t0 took reason
	start_run "$what-$mount" -o mount="$mount" -o timeout=2s -o retry=3s
	for _ in $(seq 200); do
		sleep 0.1
		if [ "$what" = daemon ]; then
			victim=$(daemon_of $run_pid)
		else
			for p in $(pgrep -P $run_pid); do
				[ "$(ip netns identify "$p" 2>/dev/null)" = "ms$run_pid-h1" ] && victim=$p
			done
			[ -n "$(daemon_of $run_pid)" ] || victim=
		fi
		[ -n "$victim" ] && break
	done
	[ -n "$victim" ] || { kill $run_pid; wait $run_pid; fail "$what/$mount: no process to kill: $(tail -3 "$run_log")"; }
	sleep 1.5 # the workload is reading by now
	t0=$(date +%s)
	if [ "$what" = drop ]; then
		ip -n "ms$run_pid-h1" link set v0 down || fail "drop: cannot take the link down"
	else
		kill -9 "$victim"
	fi
	wait $run_pid || rc=$?
	took=$(($(date +%s) - t0))
	[ $rc = 1 ] || fail "$what/$mount: expected exit 1, got $rc: $(tail -5 "$run_log")"
	[ $took -le 60 ] || fail "$what/$mount: took $took s to fail"
	jq -e -s '[.[] | select(.type == "scenario" and .status == "pass")] | length == 0' "$run_out" >/dev/null ||
		fail "$what/$mount: reported as a pass"
	reason=$(jq -r -s '.[] | select(.type == "scenario") | .reason' "$run_out")
	if [ "$what" != daemon ]; then
		echo "$reason" | grep -qE "READ failed.*(remote|chunk)" || fail "$what/$mount: unclear reason: $reason"
	else
		echo "$reason" | grep -qE "workload|local" || fail "$what/$mount: unclear reason: $reason"
	fi
	! grep -q " $wd/" /proc/mounts || fail "$what/$mount: a mount was left behind: $(grep " $wd/" /proc/mounts)"
	! ip netns list | grep -q "^ms$run_pid-" || fail "$what/$mount: namespaces left behind"
	echo "$what ($mount): failed after $took s: $reason"
}
for m in direct managed; do
	disrupt daemon $m
	disrupt remote $m
	disrupt drop $m
done

# The whole run killed: its mount outlives it until the next run cleans up.
start_run killed -o mount=managed
for _ in $(seq 200); do
	sleep 0.1
	[ -n "$(daemon_of $run_pid)" ] && break
done
daemon=$(daemon_of $run_pid)
[ -n "$daemon" ] || fail "killed run: no daemon found"
kill -9 $run_pid $(pgrep -P $run_pid)
wait $run_pid 2>/dev/null || true
for _ in $(seq 100); do # gone, or a zombie (its descriptors are closed)
	[ -d /proc/$daemon ] && ! grep -q "^State:.*Z" /proc/$daemon/status 2>/dev/null || break
	sleep 0.1
done
grep -q " $wd/memsync-$run_pid-" /proc/mounts || fail "killed run: expected its mount to outlive it"
memsync run -a memory -w seq-read -s 1M --out "$TMPDIR_TEST/c.jsonl" >"$TMPDIR_TEST/c.log" 2>&1 ||
	fail "the cleanup run failed: $(tail -3 "$TMPDIR_TEST/c.log")"
grep -q "unmounted $wd/memsync-$run_pid-.* of dead process" "$TMPDIR_TEST/c.log" ||
	fail "the next run did not say it removed the stale mount: $(cat "$TMPDIR_TEST/c.log")"
! grep -q " $wd/" /proc/mounts || fail "stale mount still there: $(grep " $wd/" /proc/mounts)"
echo "fuse faults: bad input rejected, killed daemon and remote fail cleanly, stale mounts removed"
