#!/bin/bash
# test-remote-kernel.sh - memsync-serve with the kernel's NBD client (what
# the nbd approach uses), in the VM lab when this kernel has no nbd module:
# nbd-client attaches the server's UNIX socket with two connections
# (multi-conn) as /dev/nbdX; O_DIRECT writes and reads of 8 MiB, a
# discard, and a flush go through the kernel and come back identical.
. "$(dirname "$0")/functions.sh"
requires_root
requires nbd-client dd cmp
requires_kernel_feature nbd
SERVE=$MEMSYNC_BUILD/memsync-serve
[ -x "$SERVE" ] || fail "memsync-serve not built"

dev=
for s in /sys/block/nbd*/size; do
	[ "$(cat "$s")" = 0 ] && { dev=/dev/$(basename "$(dirname "$s")"); break; }
done
[ -n "$dev" ] || fail "no free /dev/nbd device"

sock=$TMPDIR_TEST/serve.sock
"$SERVE" --unix "$sock" --backend memory:64M 2>"$TMPDIR_TEST/serve.log" &
pid=$!
# Detach the device and stop the server.
_stop() {
	nbd-client -d "$dev" >/dev/null 2>&1
	kill "$pid" 2>/dev/null
	return 0
}
cleanup_fn _stop
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
nbd-client -unix "$sock" "$dev" -b 4096 -C 2 >/dev/null 2>&1 ||
	nbd-client -unix "$sock" "$dev" -b 4096 >/dev/null 2>&1 || fail "nbd-client could not attach $sock to $dev"

head -c 8M /dev/urandom >"$TMPDIR_TEST/data"
dd if="$TMPDIR_TEST/data" of="$dev" bs=1M oflag=direct status=none || fail "O_DIRECT write to $dev failed"
dd if="$TMPDIR_TEST/data" of="$dev" bs=4k seek=4096 count=256 oflag=direct,sync status=none || fail "sync write failed"
dd if="$dev" of="$TMPDIR_TEST/back" bs=1M count=8 iflag=direct status=none || fail "O_DIRECT read from $dev failed"
cmp "$TMPDIR_TEST/data" "$TMPDIR_TEST/back" || fail "data read back from $dev differs"
if command -v blkdiscard >/dev/null; then
	blkdiscard -o 0 -l 1M "$dev" || fail "discard failed"
	dd if="$dev" of="$TMPDIR_TEST/zero" bs=1M count=1 iflag=direct status=none
	head -c 1M /dev/zero >"$TMPDIR_TEST/zeros"
	cmp "$TMPDIR_TEST/zero" "$TMPDIR_TEST/zeros" || fail "discarded range not zero"
fi
sync "$dev" 2>/dev/null || blockdev --flushbufs "$dev"
kill -0 "$pid" || fail "memsync-serve died: $(cat "$TMPDIR_TEST/serve.log")"
echo "ok: memsync-serve through the kernel NBD client ($dev), kernel $(uname -r)" >&2
