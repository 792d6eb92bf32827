#!/bin/bash
# test-netem-tc.sh - the kernel netem driver (driver tc): same checks as
# test-netem-user.sh. Runs in the VM lab when this kernel has no sch_netem;
# there (TCG) only correctness counts, so the rate bounds are wider.
. "$(dirname "$0")/functions.sh"
requires_root
requires ip tc iperf3 pgrep
[ -x "$MEMSYNC_BUILD/memsync-net" ] || fail "memsync-net not built in $MEMSYNC_BUILD"
requires_kernel_feature netem
. "$MEMSYNC_SRC/netem/test-lib.sh"

if [ "${MEMSYNC_IN_VM:-0}" = 1 ]; then
	RATE_LO=40     # emulated CPU: TCP may not fill 100 Mbit/s
	FAST_RTT_MAX=5 # and a round trip through veth takes milliseconds under TCG
fi
netem_check_driver tc
