/*
 * fuse_data.c - the data paths behind the FUSE file.
 *
 * direct:  every READ and WRITE is one request to the remote (remote.h),
 *          from the worker's own buffer; a request unanswered for
 *          cfg.timeout_ns is abandoned (its buffer goes with it) and, like a
 *          failed one, retried until cfg.retry_ns has passed; then the
 *          request fails and the workload gets EIO (SIGBUS on its mapping).
 *          FSYNC is an NBD flush. With migration tracking on, the chunks
 *          written are remembered.
 * managed: READ, WRITE and FSYNC go to the managed engine (managed.h):
 *          a local cache, a background pull, writes pushed on FSYNC.
 */
#include "fuse_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Drop a reference. */
void fuse_buf_put(struct fuse_buf *b)
{
	if (atomic_fetch_sub(&b->refs, 1) == 1) {
		pthread_mutex_destroy(&b->mu);
		pthread_cond_destroy(&b->cv);
		munmap(b->data, b->size);
		free(b);
	}
}

/* Thread exit: drop the thread's reference. */
static void buf_key_free(void *p)
{
	fuse_buf_put(p);
}

/* A fresh buffer of size bytes with one reference (the caller's). */
struct fuse_buf *fuse_buf_new(size_t size)
{
	struct fuse_buf *b = malloc(sizeof *b);
	if (!b)
		return NULL;
	b->size = size ? size : 1;
	b->data = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->data == MAP_FAILED) {
		free(b);
		return NULL;
	}
	atomic_init(&b->refs, 1);
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	b->done = b->error = 0;
	return b;
}

/* The calling thread's buffer. */
static struct fuse_buf *thread_buf(struct fuse_local *l, struct err *e)
{
	struct fuse_buf *b = pthread_getspecific(l->buf_key);
	if (b)
		return b;
	if (!(b = fuse_buf_new(FUSEFS_MAX_IO)))
		return err_errno(e, ENOMEM, "fuse: request buffer"), NULL;
	if (pthread_setspecific(l->buf_key, b)) {
		fuse_buf_put(b);
		return err_errno(e, ENOMEM, "fuse: request buffer"), NULL;
	}
	return b;
}

/* Record the first fatal error and tell the harness (any thread). */
void fuse_fatal(struct fuse_local *l, const char *msg)
{
	pthread_mutex_lock(&l->err_mu);
	int first = !l->fatal.set;
	if (first)
		err_set(&l->fatal, "%s", msg);
	pthread_mutex_unlock(&l->err_mu);
	atomic_store(&l->failed, 1);
	if (first && l->r && l->r->report_fatal)
		l->r->report_fatal(l->r, msg);
}

/* The recorded fatal error into e; 0 when there is none. */
int fuse_failed(struct fuse_local *l, struct err *e)
{
	if (!atomic_load(&l->failed))
		return 0;
	pthread_mutex_lock(&l->err_mu);
	err_set(e, "%s", l->fatal.msg);
	pthread_mutex_unlock(&l->err_mu);
	return -1;
}

/* fusefs: a request failed for good. */
static void io_failed(void *arg, const char *msg)
{
	fuse_fatal(arg, msg);
}

/* ---- direct ------------------------------------------------------------ */

/* Completion of a remote request on a buffer. */
static void buf_done(void *arg, int error)
{
	struct fuse_buf *b = arg;
	pthread_mutex_lock(&b->mu);
	b->done = 1;
	b->error = error;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	fuse_buf_put(b);
}

/* One attempt: 0 done, -1 failed (e), 1 timed out (b now belongs to the request). */
static int attempt(struct fuse_local *l, struct fuse_buf *b, int write, size_t len, uint64_t off, struct err *e)
{
	b->done = b->error = 0;
	atomic_fetch_add(&b->refs, 1); /* the request's */
	int rc = write ? remote_aio_pwrite(l->rm, b->data, len, off, buf_done, b, e)
		       : remote_aio_pread(l->rm, b->data, len, off, buf_done, b, e);
	if (rc) {
		atomic_fetch_sub(&b->refs, 1);
		return -1;
	}
	struct timespec ts = fusefs_deadline(l->cfg.timeout_ns);
	pthread_mutex_lock(&b->mu);
	while (!b->done && pthread_cond_timedwait(&b->cv, &b->mu, &ts) == 0)
		;
	int done = b->done, error = b->error;
	pthread_mutex_unlock(&b->mu);
	if (!done)
		return err_set(e, "no reply within %.1f s", (double)l->cfg.timeout_ns / 1e9), 1;
	if (error)
		return err_errno(e, error, "remote %s", write ? "write" : "read");
	return 0;
}

/* A request with retries within cfg.retry_ns; *bp may be replaced (and
 * then, when it is the thread's buffer, becomes the thread's buffer). */
int fuse_remote_io(struct fuse_local *l, struct fuse_buf **bp, int write, size_t len, uint64_t off,
		   struct err *e)
{
	uint64_t t0 = now_ns();
	struct err sub = {0};
	for (int n = 1;; n++) {
		err_clear(&sub);
		int rc = attempt(l, *bp, write, len, off, &sub);
		if (rc == 0)
			return 0;
		if (rc == 1) { /* abandoned: the late reply frees it; the thread takes a new one */
			struct fuse_buf *nb = fuse_buf_new((*bp)->size);
			int mine = pthread_getspecific(l->buf_key) == *bp;
			if (!nb || (mine && pthread_setspecific(l->buf_key, nb))) {
				if (nb)
					fuse_buf_put(nb);
				return err_errno(e, ENOMEM, "fuse: request buffer");
			}
			if (write)
				memcpy(nb->data, (*bp)->data, len);
			fuse_buf_put(*bp);
			*bp = nb;
		}
		uint64_t el = now_ns() - t0;
		if (el >= l->cfg.retry_ns || atomic_load(&l->stopping))
			return err_set(e, "remote %s of %zu bytes at %" PRIu64 " failed %d times in %.1f s: %s",
				       write ? "write" : "read", len, off, n, (double)el / 1e9, sub.msg);
		log_debug("fuse: remote %s at %" PRIu64 " failed (attempt %d): %s", write ? "write" : "read", off, n,
			  sub.msg);
		unsigned ms = n < 8 ? 25u << n : 3200u;
		struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* READ, direct. */
static const void *direct_read(void *arg, size_t len, uint64_t off, struct err *e)
{
	struct fuse_local *l = arg;
	struct fuse_buf *b = thread_buf(l, e);
	if (!b || fuse_remote_io(l, &b, 0, len, off, e))
		return NULL;
	atomic_fetch_add(&l->faults, 1);
	atomic_fetch_add(&l->pulled_direct, len);
	return b->data;
}

/* WRITE, direct: to the remote before the answer. */
static int direct_write(void *arg, const void *data, size_t len, uint64_t off, struct err *e)
{
	struct fuse_local *l = arg;
	struct fuse_buf *b = thread_buf(l, e);
	if (!b)
		return -1;
	memcpy(b->data, data, len);
	if (fuse_remote_io(l, &b, 1, len, off, e)) {
		atomic_store(&l->write_failed, 1);
		return -1;
	}
	if (l->tracked)
		for (uint64_t c = off / l->cfg.chunk; c <= (off + len - 1) / l->cfg.chunk; c++)
			atomic_store_explicit(&l->tracked[c], 1, memory_order_relaxed);
	atomic_fetch_add(&l->pushed_direct, len);
	atomic_fetch_add(&l->chunks_written, (off + len - 1) / l->cfg.chunk - off / l->cfg.chunk + 1);
	return 0;
}

/* FSYNC, direct: every answered write is on the remote; make it durable. */
static int direct_fsync(void *arg, struct err *e)
{
	struct fuse_local *l = arg;
	if (atomic_load(&l->write_failed))
		return err_set(e, "an earlier write to the remote failed");
	if (remote_flush(l->rm, e)) {
		atomic_store(&l->write_failed, 1);
		return -1;
	}
	return 0;
}

/* ---- managed ------------------------------------------------------------- */

/* READ, managed: from the cache, absent chunks fetched first. */
static const void *managed_io_read(void *arg, size_t len, uint64_t off, struct err *e)
{
	struct fuse_local *l = arg;
	struct fuse_buf *b = thread_buf(l, e);
	if (!b || managed_read(l->mg, b->data, len, off, e))
		return NULL;
	atomic_fetch_add(&l->faults, 1);
	return b->data;
}

/* WRITE, managed: into the cache. */
static int managed_io_write(void *arg, const void *data, size_t len, uint64_t off, struct err *e)
{
	struct fuse_local *l = arg;
	if (managed_write(l->mg, data, len, off, e)) {
		atomic_store(&l->write_failed, 1);
		return -1;
	}
	return 0;
}

/* Push every dirty chunk and flush the remote. */
static int managed_push(struct fuse_local *l, struct err *e)
{
	if (managed_flush(l->mg, e)) {
		atomic_store(&l->write_failed, 1);
		return -1;
	}
	return 0;
}

/* FSYNC, managed: push every dirty chunk and flush the remote. On a
 * migration source the kernel's FSYNC (the writer's msync as it is
 * suspended) ends at the engine: every WRITE the daemon answered is in the
 * engine's cache already, which is what the destination pulls and the dirty
 * list is taken from. Pushing here would put nearly the whole hot set on the
 * source's link inside the downtime, for a remote copy the migration never
 * reads. fuse_sync's explicit flush still pushes. */
static int managed_io_fsync(void *arg, struct err *e)
{
	struct fuse_local *l = arg;
	if (l->is_source)
		return atomic_load(&l->write_failed) ? err_set(e, "an earlier write failed") : 0;
	return managed_push(l, e);
}

/* ---- setup --------------------------------------------------------------- */

/* Connect to the remote (l->uri) and, managed, start the engine on it. */
int fuse_data_init(struct fuse_local *l, struct err *e)
{
	if (pthread_key_create(&l->buf_key, buf_key_free))
		return err_set(e, "fuse: pthread_key_create failed");
	l->buf_key_made = 1;
	struct remote_opts ro = {.uri = l->uri, .nconn = l->cfg.conns, .max_inflight = 256};
	if (!(l->rm = remote_connect_opts(&ro, e)))
		return -1;
	/* The region is the first sc->size bytes of the export. */
	l->size = l->sc->size;
	if (remote_size(l->rm) < l->size)
		return err_set(e, "fuse: the remote %s has %" PRIu64 " bytes, the region needs %" PRIu64, l->uri,
			       remote_size(l->rm), l->size);
	if (!l->cfg.managed)
		return 0;
	/* Demand fetches on a connection of their own: not queued behind the pull. */
	struct remote_opts dro = {.uri = l->uri, .nconn = 1, .max_inflight = 64};
	if (l->cfg.demand_conn && !(l->rm_demand = remote_connect_opts(&dro, e)))
		return -1;
	char cache[PATH_MAX + 32];
	snprintf(cache, sizeof cache, "%s/fuse-cache-%d", l->sc->workdir, (int)getpid());
	struct managed_opts mo = {
		.chunk_size = l->cfg.chunk,
		/* prefetch=off: demand reads only; a migration destination always pulls. */
		.pull_inflight = l->cfg.prefetch == FUSE_PREFETCH_OFF && !l->is_dest ? -1 : l->cfg.inflight,
		.order = l->cfg.order,
		.order_file = l->cfg.order_file[0] ? l->cfg.order_file : NULL,
		.cache_path = l->cfg.cache_file ? cache : NULL,
		.push_interval_ns = l->cfg.push_interval_ns,
		.push_inflight = l->cfg.inflight,
		.retry_ms = (int)(l->cfg.retry_ns / 1000000),
		.demand_remote = l->rm_demand,
		.on_pulled = l->cfg.prefetch == FUSE_PREFETCH_STORE ? fuse_prefetch_on_pulled : NULL,
		.cb_arg = l,
	};
	if (!(l->mg = managed_new(l->rm, &mo, e)))
		return -1;
	return 0;
}

/* The callbacks fusefs calls. */
struct fusefs_io fuse_data_io(struct fuse_local *l)
{
	if (l->cfg.managed)
		return (struct fusefs_io){.read = managed_io_read, .write = managed_io_write, .fsync = managed_io_fsync,
					  .failed = io_failed, .arg = l};
	return (struct fusefs_io){.read = direct_read, .write = direct_write, .fsync = direct_fsync,
				  .failed = io_failed, .arg = l};
}

/* Every write durable on the remote (after the page cache was written back). */
int fuse_data_flush(struct fuse_local *l, struct err *e)
{
	return l->cfg.managed ? managed_push(l, e) : direct_fsync(l, e);
}

/* The record's counters: READs that reached the daemon, bytes pulled and
 * pushed, chunks written to the remote (pushed by the engine, or WRITEs). */
void fuse_data_counters(struct fuse_local *l)
{
	struct region *r = l->r;
	if (!r)
		return;
	__atomic_store_n(&r->faults, atomic_load(&l->faults), __ATOMIC_RELAXED);
	if (l->mg) {
		struct managed_stats s;
		managed_stats(l->mg, &s);
		__atomic_store_n(&r->bytes_pulled, s.bytes_pulled_demand + s.bytes_pulled_background, __ATOMIC_RELAXED);
		__atomic_store_n(&r->bytes_pushed, s.bytes_pushed, __ATOMIC_RELAXED);
		__atomic_store_n(&r->chunks_dirty, s.chunks_pushed, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&r->bytes_pulled, atomic_load(&l->pulled_direct), __ATOMIC_RELAXED);
		__atomic_store_n(&r->bytes_pushed, atomic_load(&l->pushed_direct), __ATOMIC_RELAXED);
		__atomic_store_n(&r->chunks_dirty, atomic_load(&l->chunks_written), __ATOMIC_RELAXED);
	}
}

/* Close the engine and the remote. */
void fuse_data_fini(struct fuse_local *l)
{
	if (l->mg) {
		fuse_data_counters(l);
		managed_close(l->mg);
		l->mg = NULL;
	}
	if (l->rm_demand) {
		remote_close(l->rm_demand);
		l->rm_demand = NULL;
	}
	if (l->rm) {
		remote_close(l->rm);
		l->rm = NULL;
	}
	if (l->buf_key_made) {
		struct fuse_buf *b = pthread_getspecific(l->buf_key);
		if (b)
			fuse_buf_put(b);
		pthread_key_delete(l->buf_key);
		l->buf_key_made = 0;
	}
}
