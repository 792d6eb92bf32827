#!/bin/bash
# test-netem-user.sh - the userspace link emulator (driver user), natively:
# a 20 ms profile gives a 19-25 ms RTT, a 100mbit profile carries 80-105
# Mbit/s, a loss profile drops packets, counters count, three hosts are
# pairwise at 2 x delay, and teardown leaves no namespace or process.
. "$(dirname "$0")/functions.sh"
requires_root
requires ip iperf3 pgrep
[ -x "$MEMSYNC_BUILD/memsync-net" ] || fail "memsync-net not built in $MEMSYNC_BUILD"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
. "$MEMSYNC_SRC/netem/test-lib.sh"

netem_check_driver user
