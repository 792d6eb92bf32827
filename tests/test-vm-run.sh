#!/bin/bash
# test-vm-run.sh - the VM lab itself: harness/vm/vm-run.sh boots the stock
# kernel, runs the command in the caller's directory with its environment,
# keeps stdout and stderr apart, returns the exit code, and makes --rw
# directories writable (everything else is read-only, /tmp is a tmpfs).
. "$(dirname "$0")/functions.sh"
requires_root
[ "${MEMSYNC_IN_VM:-0}" = 1 ] && skip "already inside the VM lab"
why=$("$MEMSYNC_SRC/harness/vm/vm-available.sh" --prepare) || skip "the VM lab cannot run here: $why"
vmrun=$MEMSYNC_SRC/harness/vm/vm-run.sh
rw=$(mktemp -d "$MEMSYNC_BUILD/vm-run-test.XXXXXX")
_rm_rw() { rm -rf "$rw"; }
cleanup_fn _rm_rw

cd "$MEMSYNC_SRC/netem"
export MEMSYNC_VM_TEST_VALUE="a b'c"
rc=0
"$vmrun" --timeout 300 --rw "$rw" -- bash -c '
	echo "kernel=$(uname -r)"; echo "cwd=$PWD"; echo "value=$MEMSYNC_VM_TEST_VALUE"; echo "invm=$MEMSYNC_IN_VM"
	echo to-stderr >&2
	echo written > '"$rw"'/file
	touch /usr/memsync-must-fail 2>/dev/null && echo "root is writable"
	grep -q " /tmp tmpfs " /proc/mounts && echo "tmp=tmpfs"
	exit 7' > "$TMPDIR_TEST/out" 2> "$TMPDIR_TEST/err" || rc=$?
cat "$TMPDIR_TEST/out" "$TMPDIR_TEST/err" >&2
[ $rc = 7 ] || fail "exit code $rc, wanted 7"
grep -q '^kernel=6\.1\.0-' "$TMPDIR_TEST/out" || fail "not the VM's kernel"
grep -qx "cwd=$MEMSYNC_SRC/netem" "$TMPDIR_TEST/out" || fail "working directory not kept"
grep -qx "value=a b'c" "$TMPDIR_TEST/out" || fail "environment not passed through"
grep -qx "invm=1" "$TMPDIR_TEST/out" || fail "MEMSYNC_IN_VM not set"
grep -qx "tmp=tmpfs" "$TMPDIR_TEST/out" || fail "/tmp is not a tmpfs in the VM"
grep -q "root is writable" "$TMPDIR_TEST/out" && fail "the host root is writable from the VM"
grep -qx to-stderr "$TMPDIR_TEST/err" || fail "stderr not passed back"
grep -q to-stderr "$TMPDIR_TEST/out" && fail "stderr mixed into stdout"
[ "$(cat "$rw/file" 2>/dev/null)" = written ] || fail "--rw directory not writable"
echo "ok: vm-run.sh passes exit code, cwd, environment, output; --rw works" >&2
