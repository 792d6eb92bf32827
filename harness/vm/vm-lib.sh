# harness/vm/vm-lib.sh - shared functions of the VM lab (source it).
#
# The VM lab runs a command inside QEMU with a stock Debian kernel, whose
# modules include what this host's kernel lacks (nbd, sch_netem). The kernel
# package is fetched with `apt-get download`, its modules are reduced to the
# ones the tests need, and a busybox-static initramfs is built around
# harness/vm/init.sh. All of it is cached in $MEMSYNC_VM_CACHE
# (default /var/cache/memsync-vm).
#
#   vm_cache_dir          print the cache directory
#   vm_check_tools        say what is missing to run the lab (returns 1 if any)
#   vm_prepare            make sure kernel + initramfs are cached; prints the kernel dir
#   VM_MODULES            modules loaded at boot (with their dependencies)

VM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_MODULES="virtio_pci 9pnet_virtio 9p nbd sch_netem sch_tbf sch_htb veth tun fuse"
VM_FORMAT=3 # bump when the initramfs layout changes

# Print the cache directory.
vm_cache_dir() { echo "${MEMSYNC_VM_CACHE:-/var/cache/memsync-vm}"; }

# Print why the lab cannot run here (nothing if it can); returns 1 when it cannot.
vm_check_tools() {
	local missing=() c
	for c in qemu-system-x86_64 apt-get dpkg-deb gzip; do
		command -v "$c" >/dev/null 2>&1 || missing+=("$c")
	done
	[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx cpio || missing+=("busybox-static (/bin/busybox with cpio)")
	if [ ${#missing[@]} -gt 0 ]; then
		echo "VM lab needs ${missing[*]} (apt-get install qemu-system-x86 busybox-static)"
		return 1
	fi
	return 0
}

# The newest linux-image-6.1.0-N-amd64 apt knows about (runs apt-get update once if none).
vm_kernel_package() {
	local pkg
	pkg=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null | grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -1)
	if [ -z "$pkg" ]; then
		apt-get update -qq >/dev/null 2>&1 || true
		pkg=$(apt-cache pkgnames linux-image-6.1.0- 2>/dev/null | grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -1)
	fi
	[ -n "$pkg" ] && echo "$pkg"
}

# Module paths (relative to lib/modules/KVER) for the wanted modules and their dependencies.
vm_module_closure() {
	local moddir=$1 m
	local -A seen=()
	local queue=()
	for m in $VM_MODULES; do
		local line
		line=$(grep -E "(^|/)${m}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1)
		[ -n "$line" ] && queue+=("$line")
	done
	while [ ${#queue[@]} -gt 0 ]; do
		local line=${queue[0]}
		queue=("${queue[@]:1}")
		local mod=${line%%:*} deps=${line#*:} d
		[ -n "${seen[$mod]:-}" ] && continue
		seen[$mod]=1
		echo "$mod"
		for d in $deps; do
			[ -n "${seen[$d]:-}" ] || queue+=("$(grep -E "^${d}:" "$moddir/modules.dep" | head -1)")
		done
	done
}

# depmod, from kmod when installed, else busybox's.
vm_depmod() {
	if command -v depmod >/dev/null 2>&1; then depmod "$@"; else /bin/busybox depmod "$@"; fi
}

# Fetch and unpack the kernel, build the initramfs; print the kernel's cache dir.
vm_prepare() {
	local cache pkg kver dir
	cache=$(vm_cache_dir)
	mkdir -p "$cache" || { echo "cannot create $cache" >&2; return 1; }
	exec 9>"$cache/.lock"
	flock 9
	if ! pkg=$(vm_kernel_package); then
		# Offline: use the newest kernel already prepared, if any.
		dir=$(ls -d "$cache"/6.1.0-*-amd64 2>/dev/null | sort -V | tail -1)
		flock -u 9
		if [ -n "$dir" ] && [ -f "$dir/initramfs.cpio.gz" ]; then
			echo "$dir"
			return 0
		fi
		echo "no linux-image-6.1.0-*-amd64 package known to apt and none cached (apt-get update failed: no network?)" >&2
		return 1
	fi
	kver=${pkg#linux-image-}
	dir=$cache/$kver
	local stamp="format=$VM_FORMAT modules=$VM_MODULES init=$(cksum < "$VM_LIB_DIR/init.sh")"
	if [ -f "$dir/vmlinuz" ] && [ -f "$dir/initramfs.cpio.gz" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
		flock -u 9
		echo "$dir"
		return 0
	fi
	echo "vm-lab: preparing kernel $kver and initramfs in $dir" >&2
	local work
	work=$(mktemp -d "$cache/.work.XXXXXX")
	if ! (cd "$work" && apt-get download "$pkg" >apt.log 2>&1); then
		echo "cannot download $pkg: $(tail -1 "$work/apt.log")" >&2
		rm -rf "$work"; flock -u 9; return 1
	fi
	dpkg-deb -x "$work"/"$pkg"_*.deb "$work/root" || { rm -rf "$work"; flock -u 9; return 1; }
	vm_depmod -b "$work/root" "$kver" || { echo "depmod failed" >&2; rm -rf "$work"; flock -u 9; return 1; }
	local moddir=$work/root/lib/modules/$kver ird=$work/initramfs m
	mkdir -p "$ird/bin" "$ird/etc" "$ird/lib/modules/$kver" "$ird/proc" "$ird/sys" "$ird/dev" "$ird/newroot" "$ird/job"
	cp /bin/busybox "$ird/bin/busybox"
	cp "$VM_LIB_DIR/init.sh" "$ird/init"
	chmod 755 "$ird/init"
	echo "$VM_MODULES" | tr ' ' '\n' > "$ird/etc/vm-modules"
	for m in $(vm_module_closure "$moddir"); do
		mkdir -p "$ird/lib/modules/$kver/$(dirname "$m")"
		cp "$moddir/$m" "$ird/lib/modules/$kver/$m"
	done
	cp "$moddir/modules.builtin" "$moddir/modules.order" "$ird/lib/modules/$kver/" 2>/dev/null
	vm_depmod -b "$ird" "$kver" || { echo "depmod of the initramfs failed" >&2; rm -rf "$work"; flock -u 9; return 1; }
	mkdir -p "$dir"
	(cd "$ird" && /bin/busybox find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$dir/initramfs.cpio.gz.tmp" &&
		mv "$dir/initramfs.cpio.gz.tmp" "$dir/initramfs.cpio.gz" &&
		cp "$work/root/boot/vmlinuz-$kver" "$dir/vmlinuz" &&
		echo "$stamp" > "$dir/stamp"
	local rc=$?
	rm -rf "$work"
	flock -u 9
	[ $rc = 0 ] && echo "$dir"
	return $rc
}
