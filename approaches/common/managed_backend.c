/*
 * managed_backend.c - the managed engine as a backend (backend.h), so the
 * NBD server can serve it to the kernel's NBD client or to a migration
 * destination.
 */
#include "managed_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "clock.h"
#include "log.h"
#include "remote.h"

struct managed_backend {
	struct backend b;
	struct managed *m;
};

/* Read through the engine. */
static int mb_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	return managed_read(((struct managed_backend *)b)->m, buf, len, off, e);
}

/* Write through the engine. */
static int mb_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	return managed_write(((struct managed_backend *)b)->m, buf, len, off, e);
}

/* Push everything and flush the remote. */
static int mb_flush(struct backend *b, struct err *e)
{
	return managed_flush(((struct managed_backend *)b)->m, e);
}

/* Zero (and trim) by writing zeros in 1 MiB pieces. */
static int mb_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	static const unsigned char zeros[1 << 20];
	while (len) {
		size_t n = len < sizeof zeros ? len : sizeof zeros;
		if (managed_write(((struct managed_backend *)b)->m, zeros, n, off, e))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

/* Free the wrapper (the engine stays). */
static void mb_close(struct backend *b)
{
	free(b);
}

static const struct backend_ops managed_backend_ops = {
	.kind = "managed", .read = mb_read, .write = mb_write, .flush = mb_flush,
	.trim = mb_zero, .zero = mb_zero, .close = mb_close,
};

/* The engine as a backend. */
struct backend *managed_backend_new(struct managed *m, struct err *e)
{
	if (!m)
		return err_set(e, "managed backend: no engine"), NULL;
	struct managed_backend *mb = calloc(1, sizeof *mb);
	if (!mb)
		return err_errno(e, ENOMEM, "managed backend"), NULL;
	mb->m = m;
	mb->b.ops = &managed_backend_ops;
	mb->b.size = m->size;
	snprintf(mb->b.spec, sizeof mb->b.spec, "managed:%s", remote_uri(m->r));
	return &mb->b;
}
