/*
 * nbd_mount.h - a backend as a kernel block device: memsync's NBD server
 * serves the backend over one end of a socketpair per connection, the
 * other ends go through the NBD handshake here and are handed to the
 * kernel's NBD client (nbd_kernel.h). What the workload then maps is
 * /dev/nbdX. Knows nothing of the harness.
 */
#ifndef MEMSYNC_NBD_MOUNT_H
#define MEMSYNC_NBD_MOUNT_H

#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "nbd_kernel.h"
#include "nbd_server.h"

struct nbd_mount_opts {
	int conns;                /* kernel connections (socketpairs), 1..NBD_KERNEL_MAX_SOCKS */
	int server_workers;       /* server threads per connection (0 = the server's default) */
	struct nbd_dev_opts dev;  /* attach, ready, index, blksize, timeout, tag (size: the backend's) */
};

struct nbd_mount {
	struct nbd_server *srv;
	struct nbd_dev dev;
};

/* Serve b (not owned) to the kernel and attach a device; on failure nothing is left. */
int nbd_mount_start(struct nbd_mount *mt, struct backend *b, const struct nbd_mount_opts *o, struct err *e);
/* Write back what was written through the device and drop clean pages. */
int nbd_mount_flush(struct nbd_mount *mt, struct err *e);
/* Disconnect the device and stop the server (idempotent). */
void nbd_mount_stop(struct nbd_mount *mt);

/* The client's half of the fixed newstyle handshake on a connected socket
 * (NBD_OPT_GO, default export): the export's size and transmission flags. */
int nbd_client_handshake(int fd, uint64_t *size, uint16_t *flags, struct err *e);

#endif
