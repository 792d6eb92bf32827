/*
 * fuse_prefetch.c - prefetch=notify_store: chunks go into the kernel's page
 * cache before the workload asks, so its faults never reach the daemon.
 *
 * managed: the engine's background pull calls fuse_prefetch_on_pulled()
 *          for every chunk it made present; that only marks the chunk
 *          pending (the engine's thread never waits on the kernel). The
 *          storer thread copies pending chunks out of the cache and stores
 *          them (fusefs_store: never on a chunk the kernel has seen).
 * direct:  there is no engine: the storer thread reads the region from the
 *          remote itself, linearly, in batches of `inflight` chunks, and
 *          stores each chunk the kernel has not seen yet.
 * A store that fails, or a batch the remote does not deliver, is skipped:
 * the pages come through READ then, as without prefetch.
 */
#include "fuse_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

struct fuse_prefetch {
	struct fuse_local *l;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *pending;        /* managed: pulled, not yet stored */
	uint64_t npending, nchunks, cursor;
	int stop, busy, done;     /* busy: a chunk taken, not yet stored; done: direct pass over */
	struct fuse_buf *buf;
	uint64_t stored, batches_failed;
};

/* Engine callback (its pull thread): remember the chunks to store. */
void fuse_prefetch_on_pulled(void *arg, uint64_t off, size_t len, const void *data)
{
	(void)data; /* copied later, from the cache, by the storer */
	struct fuse_local *l = arg;
	struct fuse_prefetch *p = l->pf;
	if (!p || !len)
		return;
	pthread_mutex_lock(&p->mu);
	for (uint64_t c = off / l->cfg.chunk; c <= (off + len - 1) / l->cfg.chunk && c < p->nchunks; c++)
		if (!p->pending[c]) {
			p->pending[c] = 1;
			p->npending++;
		}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Store [off, off + len) from p->buf, read at generation gen; failures are only logged. */
static void store(struct fuse_prefetch *p, uint64_t off, size_t len, uint64_t gen)
{
	struct err e = {0};
	int rc = fusefs_store(p->l->fs, off, len, p->buf->data, gen, &e);
	if (rc < 0)
		log_debug("fuse prefetch: %s", e.msg);
	else
		p->stored += (uint64_t)rc;
}

/* Managed: copy chunk c out of the cache and store it. */
static void store_managed(struct fuse_prefetch *p, uint64_t c)
{
	struct fuse_local *l = p->l;
	uint64_t off = c * l->cfg.chunk;
	size_t len = (size_t)(l->size - off < l->cfg.chunk ? l->size - off : l->cfg.chunk);
	if (fusefs_seen(l->fs, off, len))
		return;
	struct err e = {0};
	uint64_t gen = fusefs_generation(l->fs);
	if (managed_read(l->mg, p->buf->data, len, off, &e)) {
		log_debug("fuse prefetch: %s", e.msg);
		return;
	}
	store(p, off, len, gen);
}

/* Managed: store chunks as the engine pulls them. */
static void run_managed(struct fuse_prefetch *p)
{
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->npending && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			return;
		}
		while (!p->pending[p->cursor])
			p->cursor = (p->cursor + 1) % p->nchunks;
		uint64_t c = p->cursor;
		p->pending[c] = 0;
		p->npending--;
		p->busy = 1;
		pthread_mutex_unlock(&p->mu);
		store_managed(p, c);
		pthread_mutex_lock(&p->mu);
		p->busy = 0;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

/* Direct: read the region in batches and store what the kernel has not seen. */
static void run_direct(struct fuse_prefetch *p)
{
	struct fuse_local *l = p->l;
	uint64_t batch = p->buf->size, t0 = now_ns();
	for (uint64_t off = 0; off < l->size; off += batch) {
		pthread_mutex_lock(&p->mu);
		int stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (stop || atomic_load(&l->stopping))
			return;
		size_t len = (size_t)(l->size - off < batch ? l->size - off : batch);
		uint64_t c = off; /* skip batches the kernel has seen whole */
		while (c < off + len && fusefs_seen(l->fs, c, l->cfg.chunk))
			c += l->cfg.chunk;
		if (c >= off + len)
			continue;
		struct err e = {0};
		uint64_t gen = fusefs_generation(l->fs);
		if (fuse_remote_io(l, &p->buf, 0, len, off, &e)) {
			p->batches_failed++;
			log_debug("fuse prefetch: %s", e.msg);
			continue;
		}
		atomic_fetch_add(&l->pulled_direct, len);
		store(p, off, len, gen);
	}
	log_debug("fuse prefetch: region read in %.3f s, %" PRIu64 " chunks stored", (double)(now_ns() - t0) / 1e9,
		  p->stored);
}

/* The storer thread. */
static void *prefetch_run(void *arg)
{
	struct fuse_prefetch *p = arg;
	if (p->l->mg)
		run_managed(p);
	else
		run_direct(p);
	pthread_mutex_lock(&p->mu);
	p->done = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Wait until what was pulled is stored (direct: the whole pass). */
int fuse_prefetch_wait(struct fuse_prefetch *p, struct err *e)
{
	pthread_mutex_lock(&p->mu);
	while (!p->done && (p->l->mg ? p->npending || p->busy : 1))
		pthread_cond_wait(&p->cv, &p->mu);
	int stopped = p->done && p->l->mg;
	pthread_mutex_unlock(&p->mu);
	return stopped ? err_set(e, "fuse prefetch: stopped before it stored everything") : 0;
}

/* Allocate (before the engine starts, so no pulled chunk is missed). */
struct fuse_prefetch *fuse_prefetch_new(struct fuse_local *l, struct err *e)
{
	struct fuse_prefetch *p = calloc(1, sizeof *p);
	if (!p)
		return err_errno(e, ENOMEM, "fuse prefetch"), NULL;
	p->l = l;
	p->nchunks = (l->sc->size + l->cfg.chunk - 1) / l->cfg.chunk;
	int batch = l->cfg.managed ? 1 : (l->cfg.inflight < 16 ? l->cfg.inflight : 16);
	p->pending = calloc(p->nchunks, 1);
	p->buf = fuse_buf_new(l->cfg.chunk * (uint64_t)(batch > 0 ? batch : 1));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (!p->pending || !p->buf) {
		fuse_prefetch_free(p);
		return err_errno(e, ENOMEM, "fuse prefetch"), NULL;
	}
	return p;
}

/* Start storing (the file is mounted). */
int fuse_prefetch_begin(struct fuse_prefetch *p, struct err *e)
{
	if (pthread_create(&p->thread, NULL, prefetch_run, p))
		return err_set(e, "fuse prefetch: cannot start its thread");
	p->started = 1;
	return 0;
}

/* Stop the thread (the engine may still call on_pulled until it is closed). */
void fuse_prefetch_stop(struct fuse_prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->started)
		pthread_join(p->thread, NULL);
	p->started = 0;
	if (p->stored || p->batches_failed)
		log_debug("fuse prefetch: %" PRIu64 " chunks stored, %" PRIu64 " batches failed", p->stored,
			  p->batches_failed);
}

/* Free (after the engine is closed). */
void fuse_prefetch_free(struct fuse_prefetch *p)
{
	if (!p)
		return;
	fuse_prefetch_stop(p);
	if (p->buf)
		fuse_buf_put(p->buf);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->pending);
	free(p);
}
