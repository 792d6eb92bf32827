#!/bin/bash
# harness/vm/vm-available.sh - can the VM lab run here? Exit 0 if so; else
# exit 1 and print the reason. With --prepare also fetch/build the kernel
# and initramfs (needs the network once), which is the definitive check.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/vm-lib.sh"
why=$(vm_check_tools) || { echo "$why"; exit 1; }
if [ "${1:-}" = --prepare ]; then
	vm_prepare >/dev/null 2>"${TMPDIR:-/tmp}/vm-prepare.$$" || { tail -1 "${TMPDIR:-/tmp}/vm-prepare.$$"; rm -f "${TMPDIR:-/tmp}/vm-prepare.$$"; exit 1; }
	rm -f "${TMPDIR:-/tmp}/vm-prepare.$$"
fi
exit 0
