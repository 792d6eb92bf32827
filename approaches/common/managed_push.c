/*
 * managed_push.c - pushing the managed engine's writes to the remote
 * (managed.h): the dirty queue, push rounds (in the background every
 * push_interval, and in full on managed_flush), and write tracking for
 * migration.
 *
 * A write copies into the cache and marks the chunk dirty under the
 * chunk's stripe lock; the first mark queues it. A round takes the queue
 * and, for each chunk still dirty, copies it into a push slot and clears
 * the mark under the same lock (a consistent snapshot), then sends the
 * slot (remote_aio_pwrite, push_inflight slots in flight). A write that
 * lands while its push is in flight marks the chunk dirty again, so the
 * next round sends it again: nothing is lost, and a chunk written 1000
 * times between two rounds is sent once. A chunk is never pushed twice at
 * once (two writes of one chunk in flight could land in either order); a
 * failed push marks the chunk dirty again and fails the flush that waits
 * for it.
 */
#include "managed_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* Take a free push slot, waiting while push_inflight are in flight. */
static int slot_get(struct managed *m)
{
	pthread_mutex_lock(&m->pw_lock);
	while (m->push_now >= m->push_max)
		pthread_cond_wait(&m->pw_cond, &m->pw_lock);
	m->push_now++;
	int slot = m->free_slots[--m->nfree];
	pthread_mutex_unlock(&m->pw_lock);
	return slot;
}

/* Give a slot back; error (0 or an errno) counts against the round. */
static void slot_put(struct managed *m, int slot, int error)
{
	pthread_mutex_lock(&m->pw_lock);
	m->free_slots[m->nfree++] = slot;
	m->push_now--;
	if (error && !m->round_err)
		m->round_err = error;
	pthread_cond_broadcast(&m->pw_cond);
	pthread_mutex_unlock(&m->pw_lock);
}

/* Completion of a push (poller thread): counters, state, the slot. */
static void push_done(void *arg, int error)
{
	struct push_req *p = arg;
	struct managed *m = p->m;
	uint64_t c = p->c;
	struct stripe *s = ch_stripe(m, c);
	if (error)
		log_debug("managed: push of chunk %" PRIu64 " failed: %s", c, strerror(error));
	pthread_mutex_lock(&s->lock);
	uint8_t v = (uint8_t)(ch_get(m, c) & ~CH_PUSHING);
	if (!error) {
		atomic_fetch_add(&m->bytes_pushed, ch_len(m, c));
		atomic_fetch_add(&m->chunks_pushed, 1);
		if (v & CH_SENT)
			atomic_fetch_add(&m->chunks_resent, 1);
		v |= CH_SENT;
	}
	ch_set(m, c, v);
	if (error && (v & CH_RES) == CH_PRESENT)
		push_mark_dirty_locked(m, c); /* the remote may not have it: send it again */
	pthread_cond_broadcast(&s->cond); /* invalidate waits for pushes */
	pthread_mutex_unlock(&s->lock);
	slot_put(m, p->slot, error);
	atomic_fetch_sub(&m->io_inflight, 1);
}

/* Push chunk c if it is dirty, from a snapshot in slot: 1 sent (the slot
 * is used), 0 nothing to send, -1 a push of it is in flight (it stays
 * queued). */
static int push_take(struct managed *m, uint64_t c, int slot)
{
	struct stripe *s = ch_stripe(m, c);
	unsigned char *buf = m->push_buf + ((size_t)slot << m->shift);
	size_t len = ch_len(m, c);
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
	memcpy(buf, m->cache + (c << m->shift), len);
	ch_set(m, c, (uint8_t)((v & ~(CH_DIRTY | CH_QUEUED)) | CH_PUSHING));
	atomic_fetch_sub(&m->dirty, 1);
	pthread_mutex_unlock(&s->lock);
	struct push_req *p = &m->push_reqs[slot];
	p->c = c;
	struct err e = {0};
	atomic_fetch_add(&m->io_inflight, 1);
	if (remote_aio_pwrite(m->r, buf, len, c << m->shift, push_done, p, &e)) {
		log_debug("managed: push of chunk %" PRIu64 ": %s", c, e.msg);
		push_done(p, e.code ? e.code : EIO);
	}
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

/* Push the chunks of list still dirty; the busy ones (a push of them in
 * flight) are moved to the front of list and counted in *busy. Returns
 * how many were sent. */
static size_t push_list(struct managed *m, uint64_t *list, size_t n, size_t *busy)
{
	size_t sent = 0;
	int slot = -1;
	*busy = 0;
	for (size_t i = 0; i < n; i++) {
		if (slot < 0)
			slot = slot_get(m);
		int rc = push_take(m, list[i], slot);
		if (rc < 0)
			list[(*busy)++] = list[i];
		if (rc > 0) {
			sent++;
			slot = -1;
		}
	}
	if (slot >= 0)
		slot_put(m, slot, 0);
	return sent;
}

/* One push round over the queue (round_lock held). full: also wait for
 * every push in flight, send the chunks that were busy, and return the
 * first error of any push that ended during the round (0: all went
 * through). */
static int push_round_locked(struct managed *m, int full)
{
	pthread_mutex_lock(&m->pw_lock);
	m->round_err = 0;
	pthread_mutex_unlock(&m->pw_lock);
	pthread_mutex_lock(&m->q_lock);
	uint64_t *list = m->queue;
	size_t n = m->qlen, busy;
	m->queue = m->queue_spare;
	m->queue_spare = list;
	m->qlen = 0;
	pthread_mutex_unlock(&m->q_lock);
	size_t sent = push_list(m, list, n, &busy);
	int err = 0;
	if (full) {
		push_wait_all(m);
		sent += push_list(m, list, busy, &busy); /* none is busy now */
		err = push_wait_all(m);
	}
	/* still marked queued: back on the queue for the next round */
	pthread_mutex_lock(&m->q_lock);
	memcpy(m->queue + m->qlen, list, busy * sizeof *list);
	m->qlen += busy;
	pthread_mutex_unlock(&m->q_lock);
	if (sent)
		atomic_fetch_add(&m->pushes, 1);
	return err;
}

/* Push everything dirty, wait, flush the remote. */
int managed_flush(struct managed *m, struct err *e)
{
	pthread_mutex_lock(&m->flush_lock);
	pthread_mutex_lock(&m->round_lock); /* no background round until the remote is flushed */
	int rc, err = push_round_locked(m, 1);
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
	pthread_mutex_unlock(&m->round_lock);
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
		pthread_mutex_lock(&m->round_lock);
		push_round_locked(m, 0);
		pthread_mutex_unlock(&m->round_lock);
		pthread_mutex_lock(&m->pw_lock);
	}
	pthread_mutex_unlock(&m->pw_lock);
	return NULL;
}

/* Allocate the push slots; start the push thread when pushing on an interval. */
int push_start(struct managed *m, struct err *e)
{
	size_t len = (size_t)m->push_max << m->shift;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	m->free_slots = calloc((size_t)m->push_max, sizeof *m->free_slots);
	m->push_reqs = calloc((size_t)m->push_max, sizeof *m->push_reqs);
	if (p == MAP_FAILED || !m->free_slots || !m->push_reqs) {
		if (p != MAP_FAILED)
			munmap(p, len);
		return err_errno(e, ENOMEM, "managed: %d push slots", m->push_max);
	}
	m->push_buf = p;
	for (int i = 0; i < m->push_max; i++) {
		m->free_slots[m->nfree++] = i;
		m->push_reqs[i] = (struct push_req){.m = m, .slot = i};
	}
	if (!m->push_interval_ns)
		return 0;
	int rc = pthread_create(&m->push_thread, NULL, push_run, m);
	if (rc)
		return err_errno(e, rc, "managed: push thread");
	m->push_started = 1;
	return 0;
}

/* Free the push slots. */
void push_free(struct managed *m)
{
	if (m->push_buf)
		munmap(m->push_buf, (size_t)m->push_max << m->shift);
	free(m->free_slots);
	free(m->push_reqs);
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
