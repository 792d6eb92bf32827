/*
 * backend_passthrough.c - a backend that forwards every call to another
 * (backend.h), except that a flush may end here and reads may be observed:
 * what a migration source serves its destination from (the fuse source's
 * export, the nbd seeder and the source's device).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"

struct passthrough {
	struct backend b;
	struct backend *inner;             /* owned */
	struct backend_passthrough_hooks h;
	struct backend_ops ops;            /* kind from h */
};

/* The wrapper behind b. */
static struct passthrough *pt(struct backend *b)
{
	return (struct passthrough *)b;
}

/* Read from the inner backend; tell the observer what was read. */
static int pt_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	struct passthrough *p = pt(b);
	if (backend_read(p->inner, buf, len, off, e))
		return -1;
	if (p->h.after_read)
		p->h.after_read(p->h.arg, len, off);
	return 0;
}

/* Write to the inner backend. */
static int pt_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	return backend_write(pt(b)->inner, buf, len, off, e);
}

/* Flush the inner backend, or end here (flush_ends_here). */
static int pt_flush(struct backend *b, struct err *e)
{
	struct passthrough *p = pt(b);
	return p->h.flush_ends_here ? 0 : backend_flush(p->inner, e);
}

/* Trim on the inner backend. */
static int pt_trim(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	return backend_trim(pt(b)->inner, len, off, e);
}

/* Zero on the inner backend. */
static int pt_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	return backend_zero(pt(b)->inner, len, off, e);
}

/* Close the inner backend and the wrapper. */
static void pt_close(struct backend *b)
{
	backend_close(pt(b)->inner);
	free(b);
}

/* A pass-through backend over inner (owned; closed here on failure). */
struct backend *backend_passthrough_new(struct backend *inner, const struct backend_passthrough_hooks *h,
					struct err *e)
{
	struct passthrough *p = calloc(1, sizeof *p);
	if (!p) {
		backend_close(inner);
		return err_errno(e, ENOMEM, "%s backend", h->kind), NULL;
	}
	p->inner = inner;
	p->h = *h;
	p->ops = (struct backend_ops){
		.kind = h->kind, .read = pt_read, .write = pt_write, .flush = pt_flush,
		.trim = pt_trim, .zero = pt_zero, .close = pt_close,
	};
	p->b.ops = &p->ops;
	p->b.size = inner->size;
	snprintf(p->b.spec, sizeof p->b.spec, "%s:%.200s", h->kind, inner->spec);
	return &p->b;
}
