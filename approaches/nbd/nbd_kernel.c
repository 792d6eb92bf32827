/*
 * nbd_kernel.c - attach sockets to a /dev/nbdX (netlink or ioctls), wait
 * until it is ready (sysfs polling or uevents), flush, detach, and the
 * cleanup of devices left by dead runs (nbd_kernel.h). The netlink
 * messages are in nbd_netlink.c.
 */
#include "nbd_kernel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/nbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cmd.h"
#include "log.h"

#define POLL_INTERVAL_NS 100000 /* sysfs readiness polling: every 0.1 ms */

/* Read a small sysfs attribute of nbd<index> into buf; -1 if absent. */
static int sys_read(int index, const char *attr, char *buf, size_t cap)
{
	char p[64];
	snprintf(p, sizeof p, "/sys/block/nbd%d/%s", index, attr);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* The pid the kernel records for a connected device, 0 if none. */
int nbd_kernel_dev_pid(int index)
{
	char b[32];
	return sys_read(index, "pid", b, sizeof b) ? 0 : atoi(b);
}

/* Is the kernel NBD client here, and may we use it? */
int nbd_kernel_probe(struct err *e)
{
	if (geteuid() != 0)
		return err_set(e, "the kernel NBD client needs root (CAP_SYS_ADMIN)");
	if (access("/sys/module/nbd", F_OK)) {
		struct err ignore = {0};
		char out[256];
		cmd_run(&ignore, out, sizeof out, "modprobe", "-q", "nbd", (char *)NULL);
	}
	if (access("/sys/module/nbd", F_OK) && access("/sys/block/nbd0", F_OK)) {
		struct utsname u;
		uname(&u);
		return err_set(e, "this kernel (%s) has no nbd module (CONFIG_BLK_DEV_NBD; modprobe nbd failed)", u.release);
	}
	return 0;
}

/* A device with no pid and size 0, from start on; -1 if none. */
static int find_free(int start)
{
	DIR *d = opendir("/sys/block");
	if (!d)
		return -1;
	int best = -1;
	for (struct dirent *de; (de = readdir(d));) {
		int i;
		char tail;
		if (sscanf(de->d_name, "nbd%d%c", &i, &tail) != 1 || i < start || (best >= 0 && i >= best))
			continue;
		char b[32];
		if (nbd_kernel_dev_pid(i) == 0 && !sys_read(i, "size", b, sizeof b) && !strcmp(b, "0"))
			best = i;
	}
	closedir(d);
	return best;
}

/* NBD_DO_IT blocks until the device is disconnected: on its own thread. */
static void *doit_main(void *arg)
{
	struct nbd_dev *d = arg;
	d->doit_rc = ioctl(d->fd, NBD_DO_IT);
	d->doit_errno = d->doit_rc ? errno : 0;
	return NULL;
}

/* Configure device index with the ioctls and start NBD_DO_IT; -1 with
 * errno EBUSY when another task set it up first. */
static int ioctl_attach_one(struct nbd_dev *d, int index, const struct nbd_dev_opts *o, const int *socks,
			    int nsocks, struct err *e)
{
	snprintf(d->path, sizeof d->path, "/dev/nbd%d", index);
	d->fd = open(d->path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		return err_errno(e, errno, "cannot open %s", d->path);
	const char *what = "NBD_SET_BLKSIZE";
	int rc = ioctl(d->fd, NBD_SET_BLKSIZE, (unsigned long)o->blksize);
	if (!rc && (what = "NBD_SET_SIZE_BLOCKS"))
		rc = ioctl(d->fd, NBD_SET_SIZE_BLOCKS, (unsigned long)(o->size / o->blksize));
	if (!rc && (what = "NBD_SET_FLAGS"))
		rc = ioctl(d->fd, NBD_SET_FLAGS, (unsigned long)o->flags);
	if (!rc && (what = "NBD_SET_TIMEOUT"))
		rc = ioctl(d->fd, NBD_SET_TIMEOUT, (unsigned long)o->timeout_s);
	for (int i = 0; !rc && i < nsocks; i++)
		if ((rc = ioctl(d->fd, NBD_SET_SOCK, (unsigned long)socks[i])))
			what = "NBD_SET_SOCK";
	if (!rc) {
		d->index = index;
		if ((rc = pthread_create(&d->doit, NULL, doit_main, d)) == 0) {
			d->doit_started = 1;
			return 0;
		}
		errno = rc;
		what = "starting the NBD_DO_IT thread";
		rc = -1;
	}
	int saved = errno;
	if (saved != EBUSY) /* EBUSY: another task is setting it up; its sockets are not ours to clear */
		ioctl(d->fd, NBD_CLEAR_SOCK);
	close(d->fd);
	d->fd = -1;
	d->index = -1;
	errno = saved;
	return err_errno(e, saved, "%s: %s", d->path, what);
}

/* The ioctl method: the first free device that we can set up. */
static int ioctl_attach(struct nbd_dev *d, const struct nbd_dev_opts *o, const int *socks, int nsocks, struct err *e)
{
	for (int start = 0;;) {
		int index = o->index >= 0 ? o->index : find_free(start);
		if (index < 0)
			return err_set(e, "no free /dev/nbdX (every device has a pid or a size; nbds_max too small?)");
		struct err sub = {0};
		if (ioctl_attach_one(d, index, o, socks, nsocks, &sub) == 0)
			return 0;
		if (o->index >= 0 || sub.code != EBUSY) {
			*e = e->set ? *e : sub;
			return -1;
		}
		start = index + 1; /* taken by someone else meanwhile */
	}
}

/* Poll sysfs until the device shows its size and pid. */
static int ready_poll(int index, int timeout_ms, struct err *e)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		char b[32];
		if (!sys_read(index, "size", b, sizeof b) && strcmp(b, "0") && nbd_kernel_dev_pid(index) > 0)
			return 0;
		if (now_ns() > deadline)
			return err_errno(e, ETIMEDOUT, "/dev/nbd%d not ready (sysfs size/pid) within %d ms", index,
					 timeout_ms);
		struct timespec ts = {0, POLL_INTERVAL_NS};
		nanosleep(&ts, NULL);
	}
}

/* Attach by the chosen method (the uevent listener, if any, is open already). */
static int attach_method(struct nbd_dev *d, const struct nbd_dev_opts *o, const int *socks, int nsocks,
			 struct err *e)
{
	if (o->attach != NBD_ATTACH_IOCTL) {
		struct err sub = {0};
		int index = o->index;
		if (nbd_nl_connect(o, socks, nsocks, &index, &sub) == 0) {
			d->method = NBD_ATTACH_NETLINK;
			d->index = index;
			snprintf(d->path, sizeof d->path, "/dev/nbd%d", index);
			return 0;
		}
		if (o->attach == NBD_ATTACH_NETLINK || sub.code != ENOENT) {
			*e = e->set ? *e : sub;
			return -1;
		}
		log_debug("nbd: %s; using the ioctls", sub.msg);
	}
	d->method = NBD_ATTACH_IOCTL;
	return ioctl_attach(d, o, socks, nsocks, e);
}

/* Attach the sockets and wait until the device is ready. */
int nbd_dev_attach(struct nbd_dev *d, const struct nbd_dev_opts *opts, const int *socks, int nsocks, struct err *e)
{
	memset(d, 0, sizeof *d);
	d->index = -1;
	d->fd = -1;
	struct nbd_dev_opts o = *opts;
	o.blksize = o.blksize ? o.blksize : 4096;
	o.timeout_s = o.timeout_s ? o.timeout_s : 120;
	o.ready_timeout_ms = o.ready_timeout_ms ? o.ready_timeout_ms : 10000;
	if (nsocks < 1 || nsocks > NBD_KERNEL_MAX_SOCKS)
		return err_set(e, "nbd: 1..%d connections, not %d", NBD_KERNEL_MAX_SOCKS, nsocks);
	if (o.size == 0 || o.size % o.blksize)
		return err_set(e, "nbd: size %llu is not a multiple of the block size %llu", (unsigned long long)o.size,
			       (unsigned long long)o.blksize);
	int ue = -1;
	if (o.ready == NBD_READY_UEVENT && (ue = nbd_uevent_open(e)) < 0)
		return -1;
	uint64_t t0 = now_ns();
	int rc = attach_method(d, &o, socks, nsocks, e);
	d->connect_ns = now_ns() - t0;
	if (!rc)
		rc = o.ready == NBD_READY_UEVENT ? nbd_uevent_wait(ue, &d->index, o.ready_timeout_ms, e)
						 : ready_poll(d->index, o.ready_timeout_ms, e);
	d->start_ns = now_ns() - t0;
	if (ue >= 0)
		close(ue);
	if (!rc && d->fd < 0 && (d->fd = open(d->path, O_RDWR | O_CLOEXEC)) < 0)
		rc = err_errno(e, errno, "cannot open %s", d->path);
	/* The first open scans for partitions: drop the blocks it cached, so
	 * the workload's first access is a real one. */
	if (!rc && ioctl(d->fd, BLKFLSBUF, 0))
		rc = err_errno(e, errno, "BLKFLSBUF on %s", d->path);
	if (rc)
		nbd_dev_detach(d);
	return rc;
}

/* fsync + BLKFLSBUF: dirty pages to the server, clean ones dropped. */
int nbd_dev_flush(struct nbd_dev *d, struct err *e)
{
	if (d->fd < 0)
		return err_set(e, "nbd: device not attached");
	if (fsync(d->fd))
		return err_errno(e, errno, "fsync of %s", d->path);
	if (ioctl(d->fd, BLKFLSBUF, 0))
		return err_errno(e, errno, "BLKFLSBUF on %s", d->path);
	return 0;
}

/* Disconnect device index with the ioctls (works on netlink devices too). */
static int ioctl_disconnect(int index, struct err *e)
{
	char p[32];
	snprintf(p, sizeof p, "/dev/nbd%d", index);
	int fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno, "cannot open %s", p);
	int rc = ioctl(fd, NBD_DISCONNECT) ? err_errno(e, errno, "NBD_DISCONNECT on %s", p) : 0;
	ioctl(fd, NBD_CLEAR_SOCK);
	close(fd);
	return rc;
}

/* Disconnect device index (netlink, else ioctls). */
int nbd_kernel_disconnect(int index, struct err *e)
{
	struct err sub = {0};
	if (nbd_nl_disconnect(index, &sub) == 0)
		return 0;
	return ioctl_disconnect(index, e);
}

/* Disconnect and release (idempotent). */
void nbd_dev_detach(struct nbd_dev *d)
{
	if (d->index < 0 && d->fd < 0)
		return;
	struct err e = {0};
	if (d->method == NBD_ATTACH_IOCTL && d->fd >= 0) {
		if (ioctl(d->fd, NBD_DISCONNECT))
			log_warn("nbd: NBD_DISCONNECT on %s: %s", d->path, strerror(errno));
		if (d->doit_started)
			pthread_join(d->doit, NULL);
		ioctl(d->fd, NBD_CLEAR_SOCK);
	} else if (d->index >= 0 && nbd_kernel_disconnect(d->index, &e)) {
		log_warn("nbd: disconnecting %s: %s", d->path, e.msg);
	}
	d->doit_started = 0;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->index = -1;
}

/* Is nbd<index> a memsync device whose owner is gone? */
static int is_stale(int index, int *pid, char *tag, size_t cap)
{
	*pid = nbd_kernel_dev_pid(index);
	if (*pid <= 0)
		return 0;
	char p[32];
	snprintf(p, sizeof p, "/proc/%d", *pid);
	if (!access(p, F_OK))
		return 0;
	tag[0] = 0;
	/* A backend identifier, where the kernel keeps one, must be ours. */
	if (!sys_read(index, "backend", tag, cap) && tag[0] && strncmp(tag, "memsync:", 8))
		return 0;
	return 1;
}

/* Disconnect every memsync device whose owning process is gone. */
int nbd_kernel_cleanup_stale(void)
{
	DIR *d = opendir("/sys/block");
	if (!d)
		return 0;
	int n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		int i, pid;
		char tail, tag[128];
		if (sscanf(de->d_name, "nbd%d%c", &i, &tail) != 1 || !is_stale(i, &pid, tag, sizeof tag))
			continue;
		struct err e = {0};
		if (nbd_kernel_disconnect(i, &e))
			log_warn("nbd: /dev/nbd%d left connected by dead process %d (%s): %s", i, pid,
				 tag[0] ? tag : "no tag", e.msg);
		else
			log_info("nbd: disconnected /dev/nbd%d left connected by dead process %d (%s)", i, pid,
				 tag[0] ? tag : "no tag");
		n++;
	}
	closedir(d);
	return n;
}
