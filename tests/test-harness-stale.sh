#!/usr/bin/env bash
# What a killed run leaves behind is removed: SIGKILL of a run's process
# group leaves its work directory (and, for network approaches, its
# namespaces); `memsync cleanup` and the start of the next run remove them,
# and leave alone what belongs to a live run.
. "$(dirname "$0")/functions.sh"
requires setsid

work=$TMPDIR_TEST/work
mkdir -p "$work"
cat >"$TMPDIR_TEST/long.conf" <<'CONF'
pattern = random
access_size = 4k
writes = 50%
duration = 60s
CONF

# Start a run in its own process group, wait until its scenario is under
# way, SIGKILL the whole group; echo the run's pid.
killed_run() {
	local pid i
	setsid "$MEMSYNC_BUILD/memsync" run -q --warmup 0 "$@" -w "$TMPDIR_TEST/long.conf" -s 8M --workdir "$work" \
		--out "$TMPDIR_TEST/killed.jsonl" >/dev/null 2>&1 &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		[ -e "$work/memsync-$pid-0/region" ] || [ -n "$(ls -A "$work/memsync-$pid-0" 2>/dev/null)" ] && break
		sleep 0.1
	done
	sleep 0.5
	kill -KILL -- -"$pid"
	wait "$pid" 2>/dev/null
	echo "$pid"
}

# disk: a region file in the work directory.
pid=$(killed_run -a disk)
[ -d "$work/memsync-$pid-0" ] || fail "the killed run left no work directory to clean (test setup)"
# A live run's directory is not stale.
sleep 300 &
live=$!
cleanup_fn "kill $live"
mkdir "$work/memsync-$live-0"
mkdir "$work/memsync-notapid-0"
memsync cleanup --workdir "$work" 2>"$TMPDIR_TEST/log" || fail "memsync cleanup failed: $(cat "$TMPDIR_TEST/log")"
[ ! -e "$work/memsync-$pid-0" ] || fail "memsync cleanup left the dead run's work directory"
grep -q "removed stale work directory $work/memsync-$pid-0 (its run, pid $pid, is gone)" "$TMPDIR_TEST/log" ||
	fail "cleanup did not say what it removed: $(cat "$TMPDIR_TEST/log")"
[ -d "$work/memsync-$live-0" ] || fail "cleanup removed a live run's work directory"
[ -d "$work/memsync-notapid-0" ] || fail "cleanup removed a directory that is not a run's"

# The next run cleans up at its start.
pid=$(killed_run -a disk)
[ -d "$work/memsync-$pid-0" ] || fail "the killed run left no work directory (test setup)"
memsync run -q -a memory -s 4M --workdir "$work" --out "$TMPDIR_TEST/next.jsonl" 2>"$TMPDIR_TEST/log" ||
	fail "the next run failed: $(cat "$TMPDIR_TEST/log")"
[ ! -e "$work/memsync-$pid-0" ] || fail "the next run did not remove the dead run's work directory"

# Namespaces of a network approach go the same way (root, delta built).
if [ "$(id -u)" = 0 ] && "$MEMSYNC_BUILD/memsync" list approaches | grep -q '^  delta' &&
	! "$MEMSYNC_BUILD/memsync" list approaches | grep -A1 '^  delta' | grep -q unsupported; then
	pid=$(killed_run -a delta -p local --netem user)
	ip netns list | grep -q "^ms$pid-" || fail "the killed delta run left no namespace (test setup)"
	memsync cleanup --workdir "$work" 2>"$TMPDIR_TEST/log" || fail "memsync cleanup failed: $(cat "$TMPDIR_TEST/log")"
	ip netns list | grep -q "^ms$pid-" && fail "memsync cleanup left namespaces of the dead run: $(ip netns list)"
	[ ! -e "$work/memsync-$pid-0" ] || fail "memsync cleanup left the dead delta run's work directory"
fi
echo "stale: work directories and namespaces of killed runs removed, live ones kept"
