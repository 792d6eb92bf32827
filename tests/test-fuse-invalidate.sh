#!/usr/bin/env bash
# fuse remote-change invalidation: a mapping of the FUSE file has read a
# range; another writer changes that range on the remote (through the
# remote side, which announces it); the mapping sees the new bytes without
# remapping. With notify=off the same mapping keeps showing the old bytes,
# which proves the test can fail. Both mount styles, and the managed one
# with notify_store prefetch (stores must not bring old bytes back);
# memsync-fuse runs the approach's two sides outside a scenario.
. "$(dirname "$0")/functions.sh"
requires_root
requires_approach fuse
tool=$MEMSYNC_BUILD/memsync-fuse
[ -x "$tool" ] || skip "memsync-fuse not built"
T=$TMPDIR_TEST
# stop PID - end a process this test started, if it still runs.
stop() { kill "$1" 2>/dev/null || true; }
# wait_line FILE PATTERN - up to 10 s for a line in FILE.
wait_line() {
	for _ in $(seq 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "no '$2' in $1: $(cat "$1" "$1.err" 2>/dev/null)"
}
"$tool" serve --size 16M --seed 7 >"$T/serve" 2>"$T/serve.err" &
spid=$!
cleanup_fn "stop $spid"
wait_line "$T/serve" "^port"
read -r _ port _ ctl <"$T/serve"
version=1
for m in direct managed managed+notify_store; do
	pf=readahead
	[ "$m" = managed+notify_store ] && pf=notify_store
	for notify in on off; do
		dir=$T/$m-$notify
		mkdir -p "$dir"
		"$tool" mount --dir "$dir" --size 16M --port "$port" --ctl-port "$ctl" -o mount=${m%+*} -o prefetch=$pf \
			-o notify=$notify >"$dir/mount" 2>"$dir/mount.err" &
		mpid=$!
		cleanup_fn "stop $mpid"
		wait_line "$dir/mount" region
		file=$(head -1 "$dir/mount")
		off=$((version * 1048576 + 8192))
		timeout=10
		[ $notify = off ] && timeout=3
		"$tool" watch "$file" --seed 7 --offset $off --length 64k --from 0 --to $version --timeout $timeout \
			>"$dir/watch" 2>"$dir/watch.err" &
		wpid=$!
		wait_line "$dir/watch" ready
		"$tool" write --ctl "127.0.0.1:$ctl" --seed 7 --offset $off --length 64k --version $version ||
			fail "$m/notify=$notify: the remote write failed"
		rc=0
		wait $wpid || rc=$?
		if [ $notify = on ]; then
			[ $rc = 0 ] || fail "$m: the mapping did not see the remote change: $(cat "$dir/watch.err")"
			echo "$m: $(tail -1 "$dir/watch")"
		else
			[ $rc = 1 ] || fail "$m/notify=off: expected the old bytes to stay (exit 1), got $rc: $(cat "$dir/watch")"
		fi
		kill $mpid
		wait $mpid || fail "$m/notify=$notify: the mount exited with $?: $(cat "$dir/mount.err")"
		! grep -q " $dir/" /proc/mounts || fail "$m/notify=$notify: still mounted after the daemon ended"
		version=$((version + 1))
	done
done
echo "fuse invalidate: remote changes reach live mappings (direct and managed), and only with notices on"
