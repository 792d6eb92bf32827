#!/bin/bash
# harness/vm/vm-run.sh - run one command inside the VM lab and return its exit code.
#
# usage: harness/vm/vm-run.sh [--timeout S] [--mem M] [--rw DIR]... -- CMD ARGS...
#
# Boots QEMU with a stock Debian kernel (modules nbd, sch_netem, veth, tun,
# fuse loaded), the host's root read-only over 9p, tmpfs on /tmp, /run,
# /var/tmp and /dev/shm, and DIR writable (also $MEMSYNC_OUT, the dirs in
# $MEMSYNC_VM_RW separated by ':', and CTest's Testing/ dirs). CMD runs
# as root with the caller's working directory and environment (plus
# MEMSYNC_IN_VM=1); its stdout and stderr are printed when it ends. Exit code:
# CMD's, or 1 when the VM fails, 124 on timeout.
#
# Environment: MEMSYNC_VM_CACHE (kernel/initramfs cache, default
# /var/cache/memsync-vm), MEMSYNC_VM_ACCEL (auto|kvm|tcg, default auto: KVM
# when it boots here, else TCG; a failed KVM boot is remembered in the cache).
# TCG runs 3-8x slower than the host: use it for correctness, not performance.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/vm-lib.sh"

timeout_s=600
mem=2048
rw_dirs=()
kvm_boot_timeout=25
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout_s=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--rw) rw_dirs+=("$(cd "$2" && pwd)") || exit 2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) echo "vm-run: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || { echo "vm-run: no command given (usage: vm-run.sh [options] -- CMD ARGS...)" >&2; exit 2; }
if [ "${MEMSYNC_IN_VM:-0}" = 1 ]; then
	echo "vm-run: already inside the VM lab" >&2
	exit 1
fi
why=$(vm_check_tools) || { echo "vm-run: $why" >&2; exit 1; }
kdir=$(vm_prepare) || { echo "vm-run: cannot prepare the VM kernel" >&2; exit 1; }
# Writable besides --rw: $MEMSYNC_VM_RW (colon-separated), $MEMSYNC_OUT, and
# CTest's Testing/ directories (so `vm-run.sh -- ctest ...` can log).
IFS=: read -r -a extra_rw <<< "${MEMSYNC_VM_RW:-}"
# The VM puts tmpfs on /tmp, /run, /var/tmp and /dev/shm: a checkout, build or
# working directory below one of them is shared too, or the VM would not see it.
under_tmpfs=()
for d in "${MEMSYNC_SRC:-}" "${MEMSYNC_BUILD:-}" "$PWD"; do
	case $d in /tmp/*|/run/*|/var/tmp/*|/dev/shm/*) under_tmpfs+=("$d") ;; esac
done
for d in ${extra_rw[@]+"${extra_rw[@]}"} ${under_tmpfs[@]+"${under_tmpfs[@]}"} "${MEMSYNC_OUT:-}" "$PWD/Testing" "${MEMSYNC_BUILD:+$MEMSYNC_BUILD/Testing}"; do
	[ -n "$d" ] && [ -d "$d" ] || continue
	d=$(cd "$d" && pwd)
	case " ${rw_dirs[*]-} " in *" $d "*) ;; *) rw_dirs+=("$d") ;; esac
done

job=$(mktemp -d /tmp/memsync-vm-job.XXXXXX)
qpid=
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	rm -rf "$job"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The script the VM runs: environment, working directory, command.
{
	echo '#!/bin/bash'
	export -p | grep -vE '^declare -x (SHLVL|PWD|OLDPWD|_|BASH_[A-Z_]*|MEMSYNC_IN_VM)(=|$)'
	echo 'export MEMSYNC_IN_VM=1'
	printf 'cd %q || exit 125\n' "$PWD"
	printf 'exec'
	printf ' %q' "$@"
	echo
} > "$job/run.sh"

virtfs=(-virtfs "local,path=/,mount_tag=host,readonly=on,security_model=none,multidevs=remap"
	-virtfs "local,path=$job,mount_tag=job,security_model=none")
i=0
for d in ${rw_dirs[@]+"${rw_dirs[@]}"}; do
	virtfs+=(-virtfs "local,path=$d,mount_tag=rw$i,security_model=none,multidevs=remap")
	echo "rw$i $d" >> "$job/rw-list"
	i=$((i + 1))
done

# Boot with the given accelerator; returns qemu's status (124 on timeout).
boot() {
	local accel=$1 limit=$2 cpu=max
	rm -f "$job/console.log" "$job/rc"
	[ "$accel" = kvm ] && cpu=qemu64
	qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp 2 -m "$mem" -nodefaults -no-user-config \
		-display none -no-reboot -serial "file:$job/console.log" -nic none \
		-kernel "$kdir/vmlinuz" -initrd "$kdir/initramfs.cpio.gz" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3" "${virtfs[@]}" &
	qpid=$!
	local start=$SECONDS booted=0
	while kill -0 "$qpid" 2>/dev/null; do
		if [ $booted = 0 ] && grep -q "memsync-vm: init started" "$job/console.log" 2>/dev/null; then
			booted=1
		fi
		if [ "$accel" = kvm ] && [ $booted = 0 ] && [ $((SECONDS - start)) -ge $kvm_boot_timeout ]; then
			kill "$qpid"; wait "$qpid" 2>/dev/null; qpid=
			return 3 # KVM did not boot
		fi
		if [ $((SECONDS - start)) -ge "$limit" ]; then
			kill "$qpid"; wait "$qpid" 2>/dev/null; qpid=
			return 124
		fi
		sleep 0.2
	done
	wait "$qpid"
	local rc=$?
	qpid=
	return $rc
}

accel=${MEMSYNC_VM_ACCEL:-auto}
kvm_broken=$(vm_cache_dir)/kvm-broken-$(uname -r)
if [ "$accel" = auto ]; then
	accel=tcg
	[ -w /dev/kvm ] && [ ! -e "$kvm_broken" ] && accel=kvm
fi
t0=$SECONDS
boot "$accel" "$timeout_s"
rc=$?
if [ $rc = 3 ]; then
	echo "vm-run: KVM did not boot the stock kernel in ${kvm_boot_timeout}s; using TCG (remembered in $kvm_broken)" >&2
	touch "$kvm_broken" 2>/dev/null
	accel=tcg
	boot tcg "$timeout_s"
	rc=$?
fi
[ -f "$job/stdout" ] && cat "$job/stdout"
[ -f "$job/stderr" ] && cat "$job/stderr" >&2
if [ $rc = 124 ]; then
	echo "vm-run: timeout after ${timeout_s}s (accel $accel); console tail:" >&2
	tail -20 "$job/console.log" >&2
	exit 124
fi
if [ ! -s "$job/rc" ]; then
	echo "vm-run: the VM ended without an exit code (qemu status $rc, accel $accel); console tail:" >&2
	tail -30 "$job/console.log" >&2
	exit 1
fi
echo "vm-run: '$*' exited $(cat "$job/rc") in the VM lab (accel $accel, $((SECONDS - t0)) s)" >&2
exit "$(cat "$job/rc")"
