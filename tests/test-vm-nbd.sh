#!/bin/bash
# test-vm-nbd.sh - the kernel NBD client works, in the VM lab when this
# kernel has no nbd module: nbdkit's memory plugin on a UNIX socket,
# nbd-client attaches it as /dev/nbdX, 8 MiB written and read back with
# O_DIRECT are identical.
. "$(dirname "$0")/functions.sh"
requires_root
requires nbdkit nbd-client dd cmp
requires_kernel_feature nbd

# First /dev/nbdX not in use (size 0).
dev=
for s in /sys/block/nbd*/size; do
	[ "$(cat "$s")" = 0 ] && { dev=/dev/$(basename "$(dirname "$s")"); break; }
done
[ -n "$dev" ] || fail "no free /dev/nbd device"

sock=$TMPDIR_TEST/nbd.sock
nbdkit -U "$sock" -P "$TMPDIR_TEST/nbdkit.pid" memory 64M || fail "nbdkit failed to start"
_stop_nbd() {
	nbd-client -d "$dev" >/dev/null 2>&1
	[ -f "$TMPDIR_TEST/nbdkit.pid" ] && kill "$(cat "$TMPDIR_TEST/nbdkit.pid")" 2>/dev/null
	return 0
}
cleanup_fn _stop_nbd
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
nbd-client -unix "$sock" "$dev" -b 4096 >/dev/null 2>&1 || fail "nbd-client could not attach $sock to $dev"

head -c 8M /dev/urandom > "$TMPDIR_TEST/data"
dd if="$TMPDIR_TEST/data" of="$dev" bs=1M oflag=direct status=none || fail "O_DIRECT write to $dev failed"
dd if="$dev" of="$TMPDIR_TEST/back" bs=1M count=8 iflag=direct status=none || fail "O_DIRECT read from $dev failed"
cmp "$TMPDIR_TEST/data" "$TMPDIR_TEST/back" || fail "data read back from $dev differs"
echo "ok: 8 MiB through $dev (nbdkit memory) identical, kernel $(uname -r)" >&2
