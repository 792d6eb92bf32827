/*
 * backend.h - where the remote copy of the region is stored.
 *
 * One small interface with three kinds behind it:
 *   memory:SIZE                 anonymous mmap; base pointer exposed
 *   file:PATH[:SIZE]            pread/pwrite on one file (created/grown to SIZE)
 *   dir:PATH:SIZE[:chunk=N]     one file per chunk (default 1M), so concurrent
 *                               requests do not serialize on one inode lock
 *   remote:URI                  another NBD server through remote.h (4
 *                               connections): serve a local NBD device or
 *                               socket straight from the remote region
 * All calls are safe from many threads at once; none takes a global lock
 * (the kernel orders overlapping pread/pwrite; overlapping concurrent writes
 * are the caller's race, as on a disk). Errors follow err.h; e->code holds
 * the errno so the NBD server can map it to the wire.
 */
#ifndef MEMSYNC_BACKEND_H
#define MEMSYNC_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct backend;

/* The operations of one backend kind. Offsets/lengths are pre-checked. */
struct backend_ops {
	const char *kind;
	int (*read)(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e);
	int (*write)(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e);
	int (*flush)(struct backend *b, struct err *e);
	int (*trim)(struct backend *b, size_t len, uint64_t off, struct err *e);
	int (*zero)(struct backend *b, size_t len, uint64_t off, struct err *e);
	void (*close)(struct backend *b);
};

struct backend {
	const struct backend_ops *ops;
	uint64_t size;
	void *base;      /* memory kind: the region itself; NULL otherwise */
	char spec[256];  /* the spec it was opened with, for logs */
};

/* Open a backend from a spec string (see above). */
struct backend *backend_open(const char *spec, struct err *e);

/* Individual constructors. */
struct backend *backend_memory_new(uint64_t size, struct err *e);
struct backend *backend_file_new(const char *path, uint64_t size /* 0 = file's size */, struct err *e);
struct backend *backend_dir_new(const char *path, uint64_t size, uint64_t chunk_size, struct err *e);
struct remote;
/* A backend forwarding to r (owned: closed with the backend). In backend_remote.c. */
struct backend *backend_remote_new(struct remote *r, struct err *e);
/* Connect to an NBD URI (4 connections) and wrap it: the remote:URI spec. */
struct backend *backend_remote_open(const char *uri, struct err *e);

/* What a pass-through backend (backend_passthrough_new) does besides
 * forwarding every call to the backend it wraps. */
struct backend_passthrough_hooks {
	const char *kind;      /* its backend kind (logs, the spec's prefix): a literal */
	int flush_ends_here;   /* 1: a flush returns 0 at once; 0: it is forwarded */
	/* Called after every successful read with its range (NULL: none). */
	void (*after_read)(void *arg, size_t len, uint64_t off);
	void *arg;
};
/* A backend forwarding to inner (owned: closed with it, or here on
 * failure), as h says. A migration source serves its destination through
 * one: its flush ends at the engine, its reads are counted. In
 * backend_passthrough.c. */
struct backend *backend_passthrough_new(struct backend *inner, const struct backend_passthrough_hooks *h,
					struct err *e);
/* Read len bytes at off into buf. Range must lie inside the backend. */
int backend_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e);
/* Write len bytes from buf at off. */
int backend_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e);
/* Make written data durable (no-op for memory). */
int backend_flush(struct backend *b, struct err *e);
/* Discard a range (reads back as zeros afterwards for every kind here). */
int backend_trim(struct backend *b, size_t len, uint64_t off, struct err *e);
/* Write zeros to a range, efficiently where the kind allows. */
int backend_zero(struct backend *b, size_t len, uint64_t off, struct err *e);
/* Size in bytes. */
uint64_t backend_size(const struct backend *b);
/* Base pointer of a memory backend, NULL for other kinds. */
void *backend_base(const struct backend *b);
/* Close and free (NULL is fine). */
void backend_close(struct backend *b);

#endif
