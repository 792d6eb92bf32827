/*
 * nbd_mount.c - a backend as /dev/nbdX (nbd_mount.h): socketpairs between
 * memsync's NBD server and the kernel's client, the client's handshake,
 * and the device's life.
 */
#include "nbd_mount.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "nbd_proto.h"

/* Read option replies until NBD_REP_ACK; the export's size and flags from NBD_INFO_EXPORT. */
static int read_go_replies(int fd, uint64_t *size, uint16_t *flags, struct err *e)
{
	int have_export = 0;
	for (;;) {
		unsigned char h[NBD_OPTION_REPLY_LEN], d[256];
		if (read_all(fd, h, sizeof h))
			return err_errno(e, errno, "nbd handshake: reading an option reply");
		uint32_t type = nbd_get32(h + 12), len = nbd_get32(h + 16);
		if (nbd_get64(h) != NBD_REP_MAGIC || nbd_get32(h + 8) != NBD_OPT_GO || len > sizeof d)
			return err_set(e, "nbd handshake: bad option reply");
		if (len && read_all(fd, d, len))
			return err_errno(e, errno, "nbd handshake: reading option reply data");
		if (type & 0x80000000u)
			return err_set(e, "nbd handshake: the server refused NBD_OPT_GO (error %u)", type & 0x7fffffffu);
		if (type == NBD_REP_INFO && len >= 12 && nbd_get16(d) == NBD_INFO_EXPORT) {
			*size = nbd_get64(d + 2);
			*flags = nbd_get16(d + 10);
			have_export = 1;
		}
		if (type == NBD_REP_ACK)
			return have_export ? 0 : err_set(e, "nbd handshake: no NBD_INFO_EXPORT before the ACK");
	}
}

/* The client's half of the fixed newstyle handshake. */
int nbd_client_handshake(int fd, uint64_t *size, uint16_t *flags, struct err *e)
{
	unsigned char hello[18];
	if (read_all(fd, hello, sizeof hello))
		return err_errno(e, errno, "nbd handshake: reading the greeting");
	if (nbd_get64(hello) != NBD_MAGIC || nbd_get64(hello + 8) != NBD_OPTS_MAGIC)
		return err_set(e, "nbd handshake: not a fixed newstyle server");
	uint16_t sflags = nbd_get16(hello + 16);
	unsigned char cf[4];
	nbd_put32(cf, NBD_FLAG_C_FIXED_NEWSTYLE | (sflags & NBD_FLAG_NO_ZEROES ? NBD_FLAG_C_NO_ZEROES : 0));
	/* NBD_OPT_GO: empty export name, no information requests. */
	unsigned char go[NBD_OPTION_HEADER_LEN + 6];
	nbd_put64(go, NBD_OPTS_MAGIC);
	nbd_put32(go + 8, NBD_OPT_GO);
	nbd_put32(go + 12, 6);
	nbd_put32(go + 16, 0);
	nbd_put16(go + 20, 0);
	if (write_all(fd, cf, sizeof cf) || write_all(fd, go, sizeof go))
		return err_errno(e, errno, "nbd handshake: sending NBD_OPT_GO");
	return read_go_replies(fd, size, flags, e);
}

/* One connection: a socketpair, the server's end served, the handshake on ours. */
static int connect_one(struct nbd_mount *mt, int *kfd, uint64_t *size, uint16_t *flags, struct err *e)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return err_errno(e, errno, "nbd: socketpair");
	if (nbd_server_serve_fd(mt->srv, sv[0], e)) {
		close(sv[1]);
		return -1;
	}
	if (nbd_client_handshake(sv[1], size, flags, e)) {
		close(sv[1]);
		return -1;
	}
	*kfd = sv[1];
	return 0;
}

/* Serve b to the kernel and attach a device. */
int nbd_mount_start(struct nbd_mount *mt, struct backend *b, const struct nbd_mount_opts *o, struct err *e)
{
	memset(mt, 0, sizeof *mt);
	mt->dev.index = -1;
	mt->dev.fd = -1;
	if (o->conns < 1 || o->conns > NBD_KERNEL_MAX_SOCKS)
		return err_set(e, "nbd: conns must be 1..%d", NBD_KERNEL_MAX_SOCKS);
	struct nbd_server_opts so = {.workers = o->server_workers};
	if (!(mt->srv = nbd_server_new(b, &so, e)))
		return -1;
	int kfd[NBD_KERNEL_MAX_SOCKS], n = 0, rc = 0;
	uint64_t size = 0;
	uint16_t flags = 0;
	while (!rc && n < o->conns)
		if (!(rc = connect_one(mt, &kfd[n], &size, &flags, e)))
			n++;
	if (!rc) {
		struct nbd_dev_opts d = o->dev;
		d.size = size;
		d.flags = flags;
		rc = nbd_dev_attach(&mt->dev, &d, kfd, n, e);
	}
	for (int i = 0; i < n; i++)
		close(kfd[i]); /* the kernel holds its own references */
	if (rc)
		nbd_mount_stop(mt);
	return rc;
}

/* Write back what was written through the device and drop clean pages. */
int nbd_mount_flush(struct nbd_mount *mt, struct err *e)
{
	return nbd_dev_flush(&mt->dev, e);
}

/* Disconnect the device and stop the server. */
void nbd_mount_stop(struct nbd_mount *mt)
{
	nbd_dev_detach(&mt->dev);
	if (mt->srv)
		nbd_server_free(mt->srv);
	mt->srv = NULL;
}
