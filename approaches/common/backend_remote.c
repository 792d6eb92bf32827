/*
 * backend_remote.c - the remote:URI backend: a struct backend on top of
 * the libnbd client (remote.h), for proxies and for serving a local NBD
 * device straight from the remote region (r3map's direct mount).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "remote.h"

#define REMOTE_BACKEND_NCONN 4 /* connections a remote:URI backend opens */

/* A backend whose every call goes to a remote NBD export. */
struct remote_backend {
	struct backend b;
	struct remote *r;
};

/* Read through the remote. */
static int rb_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	return remote_pread(((struct remote_backend *)b)->r, buf, len, off, e);
}

/* Write through the remote. */
static int rb_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	return remote_pwrite(((struct remote_backend *)b)->r, buf, len, off, e);
}

/* Flush the remote. */
static int rb_flush(struct backend *b, struct err *e)
{
	return remote_flush(((struct remote_backend *)b)->r, e);
}

/* Zero by writing zeros in 1 MiB pieces (the client layer has no zero command). */
static int rb_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	static const unsigned char zeros[1 << 20];
	while (len) {
		size_t n = len < sizeof zeros ? len : sizeof zeros;
		if (remote_pwrite(((struct remote_backend *)b)->r, zeros, n, off, e))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

/* Close the remote and free. */
static void rb_close(struct backend *b)
{
	remote_close(((struct remote_backend *)b)->r);
	free(b);
}

static const struct backend_ops remote_backend_ops = {
	.kind = "remote", .read = rb_read, .write = rb_write, .flush = rb_flush,
	.trim = rb_zero, .zero = rb_zero, .close = rb_close,
};

/* Wrap a connected remote as a backend (takes ownership). */
struct backend *backend_remote_new(struct remote *r, struct err *e)
{
	if (!r)
		return err_set(e, "remote backend: no remote"), NULL;
	struct remote_backend *rb = calloc(1, sizeof *rb);
	if (!rb) {
		remote_close(r);
		return err_errno(e, errno, "remote backend"), NULL;
	}
	rb->r = r;
	rb->b.ops = &remote_backend_ops;
	rb->b.size = remote_size(r);
	snprintf(rb->b.spec, sizeof rb->b.spec, "remote:%s", remote_uri(r));
	return &rb->b;
}

/* Connect to uri and wrap it as a backend (the remote:URI spec). */
struct backend *backend_remote_open(const char *uri, struct err *e)
{
	struct remote *r = remote_connect(uri, REMOTE_BACKEND_NCONN, e);
	return r ? backend_remote_new(r, e) : NULL;
}
