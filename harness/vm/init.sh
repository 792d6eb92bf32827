#!/bin/busybox sh
# harness/vm/init.sh - /init of the VM lab's initramfs (busybox).
#
# Loads the modules the tests need (nbd, sch_netem, veth, tun, fuse, 9p ...),
# mounts the host's root read-only over 9p at /newroot with tmpfs over the
# directories programs write (/tmp, /run, /var/tmp, /dev/shm), mounts the
# writable shares listed in /job/rw-list at their host paths, runs
# /job/run.sh (written by vm-run.sh) chrooted into the host root with its
# stdout/stderr in /job, records the exit code in /job/rc and powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot /job
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "memsync-vm: init started"
hostname memsync-vm
ifconfig lo 127.0.0.1 up 2>/dev/null

for m in $(cat /etc/vm-modules); do
	modprobe "$m" 2>/dev/null || echo "memsync-vm: warning: modprobe $m failed"
done

P9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$P9,ro,cache=loose" host /newroot || { echo "memsync-vm: cannot mount the host root"; poweroff -f; }
mount -t 9p -o "$P9" job /job || { echo "memsync-vm: cannot mount the job share"; poweroff -f; }
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
for d in /tmp /run /var/tmp /dev/shm; do
	mount -t tmpfs -o mode=1777 tmpfs "/newroot$d"
done
mkdir -p /newroot/run/lock /newroot/tmp/.memsync-vm-job
mount --bind /job /newroot/tmp/.memsync-vm-job
# Writable shares: "tag path" per line, parents before children; a path
# under one of the tmpfs directories is created there first.
if [ -f /job/rw-list ]; then
	sort -k2 /job/rw-list | while read -r tag path; do
		[ -d "/newroot$path" ] || mkdir -p "/newroot$path" 2>/dev/null
		mount -t 9p -o "$P9" "$tag" "/newroot$path" || echo "memsync-vm: warning: cannot mount $path writable"
	done
fi

echo "memsync-vm: running the command"
chroot /newroot /bin/bash /tmp/.memsync-vm-job/run.sh > /job/stdout 2> /job/stderr < /dev/null
echo $? > /job/rc
sync
echo "memsync-vm: done"
umount /newroot/tmp/.memsync-vm-job 2>/dev/null
umount /job 2>/dev/null
poweroff -f
