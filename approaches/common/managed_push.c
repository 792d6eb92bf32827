/*
 * managed_push.c - pushing the managed engine's writes to the remote
 * (managed.h): the dirty queue, push rounds (in the background every
 * push_interval, and in full on managed_flush), and write tracking for
 * migration.
 *
 * A write copies into the cache, then marks the chunk dirty; the first
 * mark queues it. A round takes the queue and, for each chunk still
 * dirty, clears the mark and sends the chunk straight from the cache
 * (remote_aio_pwrite, push_inflight in flight). A write that lands while
 * its push is in flight marks the chunk dirty again, so the next round
 * sends it again: nothing is lost, and a chunk written 1000 times between
 * two rounds is sent once. A chunk is never pushed twice at once (two
 * writes of one chunk in flight could land in either order); a failed
 * push marks the chunk dirty again and fails the flush that waits for it.
 */
#include "managed_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "remote.h"

/* Mark chunk c dirty and queue it (stripe lock held, c present). */
void push_mark_dirty_locked(struct managed *m, uint64_t c)
{
	uint8_t v = ch_get(m, c);
	if (v & CH_DIRTY)
		return;
	v |= CH_DIRTY;
	atomic_fetch_add(&m->dirty, 1);
	if (!(v & CH_QUEUED)) {
		v |= CH_QUEUED;
		pthread_mutex_lock(&m->q_lock);
		m->queue[m->qlen++] = c;
		pthread_mutex_unlock(&m->q_lock);
	}
	ch_set(m, c, v);
}

/* A push of chunk c ended: counters, the state, the window. */
static void push_finish(struct managed *m, uint64_t c, int error)
{
	size_t len = ch_len(m, c);
	struct stripe *s = ch_stripe(m, c);
	pthread_mutex_lock(&s->lock);
	uint8_t v = (uint8_t)(ch_get(m, c) & ~CH_PUSHING);
	if (!error) {
		atomic_fetch_add(&m->bytes_pushed, len);
		atomic_fetch_add(&m->chunks_pushed, 1);
		if (v & CH_SENT)
			atomic_fetch_add(&m->chunks_resent, 1);
		v |= CH_SENT;
		ch_set(m, c, v);
	} else if ((v & CH_RES) == CH_PRESENT) {
		ch_set(m, c, v);
		push_mark_dirty_locked(m, c); /* the remote may not have it: send it again */
	} else {
		ch_set(m, c, v);
	}
	pthread_cond_broadcast(&s->cond); /* invalidate waits for pushes */
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&m->pw_lock);
	m->push_now--;
	if (error && !m->round_err)
		m->round_err = error;
	pthread_cond_broadcast(&m->pw_cond);
	pthread_mutex_unlock(&m->pw_lock);
}

/* Completion of a push (poller thread). */
static void push_done(void *arg, int error)
{
	struct fetch *p = arg;
	struct managed *m = p->m;
	if (error)
		log_debug("managed: push of chunk %" PRIu64 " failed: %s", p->c, strerror(error));
	push_finish(m, p->c, error);
	free(p);
	atomic_fetch_sub(&m->io_inflight, 1);
}

/* Send chunk c (marked PUSHING) once the push window has room. */
static void push_send(struct managed *m, uint64_t c)
{
	pthread_mutex_lock(&m->pw_lock);
	while (m->push_now >= m->push_max)
		pthread_cond_wait(&m->pw_cond, &m->pw_lock);
	m->push_now++;
	pthread_mutex_unlock(&m->pw_lock);
	struct fetch *p = malloc(sizeof *p);
	if (!p) {
		push_finish(m, c, ENOMEM);
		return;
	}
	p->m = m;
	p->c = c;
	atomic_fetch_add(&m->io_inflight, 1);
	uint64_t off = c << m->shift;
	struct err e = {0};
	if (remote_aio_pwrite(m->r, m->cache + off, ch_len(m, c), off, push_done, p, &e)) {
		log_debug("managed: push of chunk %" PRIu64 ": %s", c, e.msg);
		push_done(p, e.code ? e.code : EIO);
	}
}

/* Push chunk c if it is dirty: 1 sent, 0 nothing to send, -1 a push of
 * it is still in flight (it stays queued). */
static int push_take(struct managed *m, uint64_t c)
{
	struct stripe *s = ch_stripe(m, c);
	pthread_mutex_lock(&s->lock);
	uint8_t v = ch_get(m, c);
	if (!(v & CH_DIRTY) || (v & CH_RES) != CH_PRESENT) {
		ch_set(m, c, (uint8_t)(v & ~CH_QUEUED));
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	if (v & CH_PUSHING) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	ch_set(m, c, (uint8_t)((v & ~(CH_DIRTY | CH_QUEUED)) | CH_PUSHING));
	atomic_fetch_sub(&m->dirty, 1);
	pthread_mutex_unlock(&s->lock);
	push_send(m, c);
	return 1;
}

/* Wait until no push is in flight; the first error since the round began. */
static int push_wait_all(struct managed *m)
{
	pthread_mutex_lock(&m->pw_lock);
	while (m->push_now > 0)
		pthread_cond_wait(&m->pw_cond, &m->pw_lock);
	int err = m->round_err;
	pthread_mutex_unlock(&m->pw_lock);
	return err;
}

/* Put chunks (still marked queued) back on the queue. */
static void push_requeue(struct managed *m, const uint64_t *list, size_t n)
{
	pthread_mutex_lock(&m->q_lock);
	memcpy(m->queue + m->qlen, list, n * sizeof *list);
	m->qlen += n;
	pthread_mutex_unlock(&m->q_lock);
}

/* One push round over the queue. full: also wait for every push in
 * flight, resend chunks that were busy, and return the first error of
 * any push that ended during the round (0 when all went through). */
static int push_round(struct managed *m, int full)
{
	pthread_mutex_lock(&m->round_lock);
	pthread_mutex_lock(&m->pw_lock);
	m->round_err = 0;
	pthread_mutex_unlock(&m->pw_lock);
	pthread_mutex_lock(&m->q_lock);
	uint64_t *list = m->queue;
	size_t n = m->qlen;
	m->queue = m->queue_spare;
	m->queue_spare = list;
	m->qlen = 0;
	pthread_mutex_unlock(&m->q_lock);
	size_t busy = 0, sent = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = push_take(m, list[i]);
		if (rc < 0)
			list[busy++] = list[i];
		sent += rc > 0;
	}
	int err = 0;
	if (full) {
		push_wait_all(m);
		size_t again = 0;
		for (size_t i = 0; i < busy; i++) {
			int rc = push_take(m, list[i]);
			if (rc < 0) /* cannot happen with nothing in flight; keep it queued anyway */
				list[again++] = list[i];
			sent += rc > 0;
		}
		busy = again;
		err = push_wait_all(m);
	}
	push_requeue(m, list, busy);
	if (sent)
		atomic_fetch_add(&m->pushes, 1);
	pthread_mutex_unlock(&m->round_lock);
	return err;
}

/* Push everything dirty, wait, flush the remote. */
int managed_flush(struct managed *m, struct err *e)
{
	pthread_mutex_lock(&m->flush_lock);
	int rc, err = push_round(m, 1);
	if (err) {
		rc = err_errno(e, err, "managed: flush: pushing dirty chunks to %s failed", remote_uri(m->r));
	} else {
		/* remote_flush drains every request in flight: hold the pull meanwhile */
		pull_pause(m);
		struct err other = {0};
		remote_drain(m->r, &other); /* forget failures of reads: pushes were checked above */
		rc = remote_flush(m->r, e);
		pull_resume(m);
	}
	pthread_mutex_unlock(&m->flush_lock);
	return rc;
}

/* The push thread: a round every push_interval_ns. */
static void *push_run(void *arg)
{
	struct managed *m = arg;
	pthread_mutex_lock(&m->pw_lock);
	while (!atomic_load(&m->stopping)) {
		struct timespec deadline;
		managed_deadline(&deadline, m->push_interval_ns);
		while (!atomic_load(&m->stopping) &&
		       pthread_cond_timedwait(&m->pw_cond, &m->pw_lock, &deadline) != ETIMEDOUT)
			;
		if (atomic_load(&m->stopping))
			break;
		pthread_mutex_unlock(&m->pw_lock);
		push_round(m, 0);
		pthread_mutex_lock(&m->pw_lock);
	}
	pthread_mutex_unlock(&m->pw_lock);
	return NULL;
}

/* Start the push thread when pushing on an interval. */
int push_start(struct managed *m, struct err *e)
{
	if (!m->push_interval_ns)
		return 0;
	int rc = pthread_create(&m->push_thread, NULL, push_run, m);
	if (rc)
		return err_errno(e, rc, "managed: push thread");
	m->push_started = 1;
	return 0;
}

/* Wake the push thread (closing). */
void push_wake(struct managed *m)
{
	pthread_mutex_lock(&m->pw_lock);
	pthread_cond_broadcast(&m->pw_cond);
	pthread_mutex_unlock(&m->pw_lock);
}

/* Remember every chunk written from now on. */
void managed_track_start(struct managed *m)
{
	for (uint64_t c = 0; c < m->nchunks; c++)
		atomic_store_explicit(&m->track[c], 0, memory_order_relaxed);
	atomic_store(&m->tracking, 1);
}

/* The chunks written since the last call (or managed_track_start). */
uint64_t *managed_track_take(struct managed *m, size_t *n, struct err *e)
{
	*n = 0;
	uint64_t *out = malloc((size_t)m->nchunks * sizeof *out);
	if (!out)
		return err_errno(e, ENOMEM, "managed: track"), NULL;
	for (uint64_t c = 0; c < m->nchunks; c++)
		if (atomic_load_explicit(&m->track[c], memory_order_relaxed) && atomic_exchange(&m->track[c], 0))
			out[(*n)++] = c;
	uint64_t *shrunk = realloc(out, (*n ? *n : 1) * sizeof *out);
	return shrunk ? shrunk : out;
}
