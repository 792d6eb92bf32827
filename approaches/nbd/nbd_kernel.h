/*
 * nbd_kernel.h - the kernel's NBD client, seen from user space: attach
 * connected sockets to a /dev/nbdX, detect when the device is ready,
 * flush it, detach it, and find devices that dead runs left connected.
 *
 * Knows nothing of the harness or of what serves the sockets: the caller
 * hands over sockets that are already past the NBD handshake (transmission
 * phase) and the export's size and transmission flags.
 *
 * Attach methods: generic netlink (family "nbd", NBD_CMD_CONNECT with every
 * socket in NBD_ATTR_SOCKETS; the kernel may pick a free device) and the
 * older ioctls (NBD_SET_SOCK per socket, NBD_SET_BLKSIZE, NBD_SET_SIZE_BLOCKS,
 * NBD_SET_FLAGS, then NBD_DO_IT, which blocks, on a thread of its own).
 * Readiness, the two ways the thesis compared: polling sysfs
 * (/sys/block/nbdX/size nonzero and /sys/block/nbdX/pid present) or
 * listening to the kernel's uevents (NETLINK_KOBJECT_UEVENT, "change" of
 * the device), which is what udev does. Devices are tagged with a backend
 * identifier (/sys/block/nbdX/backend, "memsync:ms<pid>:...") so a cleanup
 * recognizes its own.
 */
#ifndef MEMSYNC_NBD_KERNEL_H
#define MEMSYNC_NBD_KERNEL_H

#include <pthread.h>
#include <stdint.h>

#include "err.h"

enum nbd_attach {
	NBD_ATTACH_AUTO,    /* netlink, else the ioctls */
	NBD_ATTACH_NETLINK,
	NBD_ATTACH_IOCTL,
};

enum nbd_ready {
	NBD_READY_UEVENT,   /* wait for the kernel's "change" uevent of the device */
	NBD_READY_POLL,     /* poll /sys/block/nbdX/{size,pid} */
};

#define NBD_KERNEL_MAX_SOCKS 16

struct nbd_dev_opts {
	enum nbd_attach attach;
	enum nbd_ready ready;
	int index;            /* -1: any free device */
	uint64_t size;        /* bytes, a multiple of blksize */
	uint64_t blksize;     /* 512..4096, a power of two (0 = 4096) */
	uint64_t flags;       /* transmission flags from the handshake */
	int timeout_s;        /* request timeout (0 = 120) */
	const char *tag;      /* backend identifier (netlink; NULL = none) */
	int ready_timeout_ms; /* give up waiting for readiness (0 = 10000) */
};

struct nbd_dev {
	int index;            /* -1 while detached */
	char path[32];        /* /dev/nbdX */
	enum nbd_attach method; /* the one that worked */
	int fd;               /* the device, open while attached */
	uint64_t start_ns;    /* from the attach request until ready was seen */
	uint64_t connect_ns;  /* from the attach request until the kernel took the sockets */
	/* ioctl method: the NBD_DO_IT thread */
	pthread_t doit;
	int doit_started;
	int doit_rc, doit_errno;
};

/* Is the kernel NBD client here, and may we use it? (module, root) */
int nbd_kernel_probe(struct err *e);

/* Attach socks (ownership stays with the caller; the kernel takes its own
 * references, so the caller may close them afterwards) and wait until the
 * device is ready. d is filled; on failure nothing stays attached. */
int nbd_dev_attach(struct nbd_dev *d, const struct nbd_dev_opts *o, const int *socks, int nsocks, struct err *e);
/* Write back the device's dirty pages and drop its clean ones (fsync +
 * BLKFLSBUF): what was written through a mapping reaches the server. */
int nbd_dev_flush(struct nbd_dev *d, struct err *e);
/* Disconnect and release (idempotent). */
void nbd_dev_detach(struct nbd_dev *d);

/* Disconnect device index (netlink, else ioctls). */
int nbd_kernel_disconnect(int index, struct err *e);
/* The pid the kernel records for a connected device, 0 if none. */
int nbd_kernel_dev_pid(int index);
/* Disconnect every memsync device whose owning process is gone; one log
 * line per device; returns how many. */
int nbd_kernel_cleanup_stale(void);

/* netlink (nbd_netlink.c): connect; *index in/out (-1 = kernel picks). */
int nbd_nl_connect(const struct nbd_dev_opts *o, const int *socks, int nsocks, int *index, struct err *e);
/* netlink: disconnect device index. */
int nbd_nl_disconnect(int index, struct err *e);
/* A uevent listener (NETLINK_KOBJECT_UEVENT, kernel group), or -1. */
int nbd_uevent_open(struct err *e);
/* Wait on a uevent listener for "change" of nbd<index> (index < 0: any
 * nbd device; its index is stored); -1 on timeout. */
int nbd_uevent_wait(int fd, int *index, int timeout_ms, struct err *e);

#endif
