/*
 * managed.h - the managed engine: a local cache in front of a remote region.
 *
 * What the thesis called a managed mount, without the mount: the fuse and
 * nbd approaches put it behind a FUSE file or a kernel NBD device; it knows
 * nothing of either. It wraps a remote (remote.h, any NBD server) with
 *
 *   - a local cache (anonymous memory, or a file for regions larger than
 *     RAM) and a per-chunk state: absent, in flight, present, dirty;
 *   - a background pull of every absent chunk with pull_inflight requests in
 *     flight (libnbd's async window, one thread), in a priority order;
 *   - demand reads: a read of an absent chunk fetches it at once, ahead of
 *     the background order, and joins a fetch of the same chunk already in
 *     flight instead of fetching it twice;
 *   - writes that land in the cache and mark chunks dirty; a background push
 *     every push_interval and a full push on managed_flush(), deduplicated
 *     (a chunk written 1000 times between two pushes is sent once);
 *   - tracking for migration: the chunks written since managed_track_start(),
 *     and managed_invalidate() to mark chunks absent and pull them first.
 *
 * The chunk size (4 KiB..1 MiB, a power of two) is independent of the size
 * of the requests that reach the engine, so chunking on the local side and
 * on the remote side (the server's --chunk) can be compared.
 *
 * Every function is safe to call from many threads at once. Errors follow
 * err.h. A remote that fails mid-pull: demand reads retry within a bound
 * (retry_ms), then fail with the remote's error; the background pull stops
 * and says so in the stats; nothing already present is lost.
 */
#ifndef MEMSYNC_MANAGED_H
#define MEMSYNC_MANAGED_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct remote;
struct backend;
struct managed;

/* The order in which the background pull fetches absent chunks. */
enum managed_order {
	MANAGED_ORDER_LINEAR,       /* chunk 0, 1, 2, ... */
	MANAGED_ORDER_HEADER_FIRST, /* the first and last 1 MiB, then linear */
	MANAGED_ORDER_LIST,         /* byte offsets from order_file, one per line, then linear */
	MANAGED_ORDER_FOLLOW,       /* from the chunk after the latest demand read onwards */
};

struct managed_opts {
	uint64_t chunk_size;        /* 4 KiB..1 MiB, power of two (0 = 1 MiB) */
	int pull_inflight;          /* background pull requests in flight (0 = 64; -1 = no
	                             * background pull: demand reads only) */
	enum managed_order order;
	const char *order_file;     /* MANAGED_ORDER_LIST */
	const char *cache_path;     /* NULL: anonymous memory; else a file created there */
	uint64_t push_interval_ns;  /* background push period (0 = push only on flush) */
	int push_inflight;          /* push requests in flight (0 = 64) */
	int retry_ms;               /* a failed demand fetch is retried for this long (0 = 10000) */
	int close_timeout_ms;       /* managed_close waits this long for requests in flight
	                             * (0 = 10000); then it leaves the engine allocated */
	struct remote *demand_remote; /* NULL: demand fetches go to r as well; else to this
	                             * connection to the same export (not owned), so they do not
	                             * queue behind the background pull's requests */
	/* Called on the pull thread after a chunk became present through the
	 * background pull (not through a demand read): data is the chunk's
	 * bytes in the cache, valid during the call. May be NULL. The fuse
	 * approach stores the chunk into the kernel's page cache here. */
	void (*on_pulled)(void *arg, uint64_t off, size_t len, const void *data);
	void *cb_arg;
};

struct managed_stats {
	uint64_t chunk_size, chunks, chunks_present, chunks_dirty;
	uint64_t demand_fetches;    /* chunks fetched for a demand read */
	uint64_t demand_joins;      /* demand reads that joined a fetch in flight */
	uint64_t bytes_pulled_demand, bytes_pulled_background;
	uint64_t pull_done_ns;      /* time from managed_new() until every chunk was present
	                             * (0 while the pull runs) */
	uint64_t bytes_pushed, chunks_pushed;
	uint64_t chunks_resent;     /* chunks pushed more than once */
	uint64_t pushes;            /* push rounds (background and flush) */
	int pull_failed;            /* the background pull stopped on a remote error */
};

/* Create the engine over r (not owned: close r after managed_close()) and
 * start its pull and push threads. The region size is remote_size(r). */
struct managed *managed_new(struct remote *r, const struct managed_opts *o, struct err *e);

/* Read [off, off+len) (inside the region): present and dirty chunks from the
 * cache, absent ones fetched first. */
int managed_read(struct managed *m, void *buf, size_t len, uint64_t off, struct err *e);
/* Write into the cache and mark the chunks dirty (a partly written absent
 * chunk is fetched first). Nothing reaches the remote before a push. */
int managed_write(struct managed *m, const void *buf, size_t len, uint64_t off, struct err *e);
/* Push every dirty chunk, wait for all, flush the remote: every write that
 * returned before this call is durable on the remote when it returns 0. */
int managed_flush(struct managed *m, struct err *e);

/* Wait until every chunk is present (the background pull finished); -1 on
 * timeout (timeout_ms < 0: wait forever) or when the pull failed. */
int managed_wait_pulled(struct managed *m, int timeout_ms, struct err *e);

/* Migration, source side: from now on remember every chunk written. */
void managed_track_start(struct managed *m);
/* The chunks (indexes) written since managed_track_start(); *n set; the
 * caller frees the array. The set is reset, so the next call returns what
 * was written after this one. */
uint64_t *managed_track_take(struct managed *m, size_t *n, struct err *e);
/* Migration, destination side: mark these chunks absent and pull them
 * ahead of every other absent chunk. Dirty chunks among them lose their
 * local changes (the source's copy wins). */
int managed_invalidate(struct managed *m, const uint64_t *chunks, size_t n, struct err *e);

/* Counters. */
void managed_stats(struct managed *m, struct managed_stats *s);
/* Region size in bytes. */
uint64_t managed_size(const struct managed *m);
/* The engine as a backend (backend.h), e.g. for the NBD server that feeds
 * the kernel's NBD client, or a migration seeder. Not owned: close it
 * before managed_close(). */
struct backend *managed_backend_new(struct managed *m, struct err *e);

/* Stop the threads and free. Does not push: call managed_flush() first. */
void managed_close(struct managed *m);

#endif
