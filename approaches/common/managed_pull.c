/*
 * managed_pull.c - the background pull of the managed engine (managed.h):
 * one thread keeps pull_inflight fetches in flight with remote_aio_pread,
 * in the chosen order (linear, header-first, a list file, or following the
 * latest demand read), with invalidated and failed chunks first; it calls
 * on_pulled for each chunk it brought in. Also managed_invalidate() and
 * managed_wait_pulled().
 */
#include "managed_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "remote.h"
#include "units.h"

#define HEADER_BYTES (1u << 20) /* header-first: this much at each end */

/* Append chunk c to the order list. */
static int order_add(struct managed *m, uint64_t c, size_t *cap)
{
	if (m->order_len == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		uint64_t *p = realloc(m->order_list, ncap * sizeof *p);
		if (!p)
			return -1;
		m->order_list = p;
		*cap = ncap;
	}
	m->order_list[m->order_len++] = c;
	return 0;
}

/* Read the list order: one byte offset per line ("4096", "64k", "1M"),
 * '#' starts a comment; errors name the line. */
static int order_load_file(struct managed *m, const char *path, size_t *cap, struct err *e)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return err_errno(e, errno, "managed: order file %s", path);
	char line[256];
	int rc = 0;
	for (int no = 1; rc == 0 && fgets(line, sizeof line, f); no++) {
		line[strcspn(line, "#\r\n")] = '\0';
		char *tok = line + strspn(line, " \t"), *end = tok + strcspn(tok, " \t");
		if (!*tok)
			continue;
		uint64_t off;
		struct err pe = {0};
		if (end[strspn(end, " \t")])
			rc = err_errno(e, EINVAL, "%s:%d: one offset per line, not '%s'", path, no, tok);
		else if ((*end = '\0', parse_size(tok, &off, &pe)))
			rc = err_errno(e, EINVAL, "%s:%d: %s", path, no, pe.msg);
		else if (off >= m->size)
			rc = err_errno(e, EINVAL, "%s:%d: offset %" PRIu64 " is outside the region (%" PRIu64 " bytes)", path,
				       no, off, m->size);
		else if (order_add(m, off >> m->shift, cap))
			rc = err_errno(e, ENOMEM, "managed: order file %s", path);
	}
	fclose(f);
	return rc;
}

/* Build the order list for the header-first and list orders. */
int pull_order_init(struct managed *m, const char *order_file, struct err *e)
{
	size_t cap = 0;
	if (m->order == MANAGED_ORDER_LIST)
		return order_load_file(m, order_file, &cap, e);
	if (m->order != MANAGED_ORDER_HEADER_FIRST)
		return 0;
	uint64_t head = m->size < HEADER_BYTES ? m->size : HEADER_BYTES;
	uint64_t tail_first = (m->size - head) >> m->shift;
	for (uint64_t c = 0; c <= (head - 1) >> m->shift; c++)
		if (order_add(m, c, &cap))
			return err_errno(e, ENOMEM, "managed: order");
	for (uint64_t c = tail_first; c < m->nchunks; c++)
		if (order_add(m, c, &cap))
			return err_errno(e, ENOMEM, "managed: order");
	return 0;
}

/* Append chunk c to the priority ring (pull_lock held). */
static int prio_push(struct managed *m, uint64_t c)
{
	if (m->prio_len == m->prio_cap) {
		uint64_t *p = malloc(m->prio_cap * 2 * sizeof *p);
		if (!p)
			return -1;
		for (size_t i = 0; i < m->prio_len; i++)
			p[i] = m->prio[(m->prio_head + i) % m->prio_cap];
		free(m->prio);
		m->prio = p;
		m->prio_head = 0;
		m->prio_cap *= 2;
	}
	m->prio[(m->prio_head + m->prio_len) % m->prio_cap] = c;
	m->prio_len++;
	return 0;
}

/* Claim chunk c for the pull if it is absent (ABSENT -> FETCHING). */
static int pull_claim(struct managed *m, uint64_t c)
{
	if ((ch_get(m, c) & CH_RES) != CH_ABSENT)
		return 0;
	struct stripe *s = ch_stripe(m, c);
	pthread_mutex_lock(&s->lock);
	uint8_t v = ch_get(m, c);
	int ok = (v & CH_RES) == CH_ABSENT;
	if (ok)
		ch_set(m, c, (uint8_t)((v & ~CH_RES) | CH_FETCHING));
	pthread_mutex_unlock(&s->lock);
	return ok;
}

/* The next chunk to pull, claimed: the priority ring, the order list, then
 * the scan (from after the latest demand read with the follow order).
 * 0 when nothing is absent now (pull_lock held). */
static int pull_pick(struct managed *m, uint64_t *out)
{
	while (m->prio_len) {
		uint64_t c = m->prio[m->prio_head];
		m->prio_head = (m->prio_head + 1) % m->prio_cap;
		m->prio_len--;
		if (pull_claim(m, c))
			return *out = c, 1;
	}
	while (m->order_pos < m->order_len) {
		uint64_t c = m->order_list[m->order_pos++];
		if (pull_claim(m, c))
			return *out = c, 1;
	}
	if (atomic_load(&m->present) >= m->nchunks)
		return 0;
	uint64_t seq = atomic_load(&m->follow_seq);
	if (m->order == MANAGED_ORDER_FOLLOW && seq != m->follow_seen) {
		m->follow_seen = seq;
		m->cursor = atomic_load(&m->follow_next) % m->nchunks;
		m->scan_run = 0;
	}
	while (m->scan_run < m->nchunks) {
		uint64_t c = m->cursor;
		m->cursor = c + 1 == m->nchunks ? 0 : c + 1;
		if (pull_claim(m, c)) {
			m->scan_run = 0;
			return *out = c, 1;
		}
		m->scan_run++;
	}
	return 0;
}

/* The background pull stops on a remote error (once; logged). */
static void pull_fail(struct managed *m, int error, const char *msg)
{
	atomic_store(&m->last_error, error);
	if (atomic_exchange(&m->pull_failed, 1) == 0)
		log_warn("managed: background pull from %s stopped: %s", remote_uri(m->r), msg ? msg : strerror(error));
	pthread_mutex_lock(&m->pull_lock);
	pthread_cond_broadcast(&m->done_cond);
	pthread_mutex_unlock(&m->pull_lock);
}

/* Completion of a background fetch (poller thread). */
static void pull_done(void *arg, int error)
{
	struct fetch *f = arg;
	struct managed *m = f->m;
	if (!error)
		atomic_fetch_add(&m->bytes_background, ch_len(m, f->c));
	managed_landed(m, f->c, error);
	if (error)
		pull_fail(m, error, NULL);
	pthread_mutex_lock(&m->pull_lock);
	m->pull_now--;
	if (!error && m->on_pulled) { /* on_pulled runs on the pull thread */
		f->next = m->landed;
		m->landed = f;
		f = NULL;
	}
	m->pull_work++;
	pthread_cond_broadcast(&m->pull_cond);
	pthread_mutex_unlock(&m->pull_lock);
	free(f);
	atomic_fetch_sub(&m->io_inflight, 1);
}

/* Send the fetch of claimed chunk c (pull_now already counts it). */
static void pull_submit(struct managed *m, uint64_t c)
{
	struct err e = {0};
	struct fetch *f = malloc(sizeof *f);
	if (f) {
		f->m = m;
		f->c = c;
		atomic_fetch_add(&m->io_inflight, 1);
		uint64_t off = c << m->shift;
		if (remote_aio_pread(m->r, m->cache + off, ch_len(m, c), off, pull_done, f, &e) == 0)
			return;
		free(f);
		atomic_fetch_sub(&m->io_inflight, 1);
	} else {
		err_errno(&e, ENOMEM, "fetch of chunk %" PRIu64, c);
	}
	managed_landed(m, c, e.code ? e.code : EIO);
	pull_fail(m, e.code ? e.code : EIO, e.msg);
	pthread_mutex_lock(&m->pull_lock);
	m->pull_now--;
	pthread_cond_broadcast(&m->pull_cond);
	pthread_mutex_unlock(&m->pull_lock);
}

/* Call on_pulled for the chunks that landed, oldest first (pull_lock held,
 * released during the calls). */
static void pull_deliver(struct managed *m)
{
	struct fetch *list = NULL;
	while (m->landed) { /* reverse: the list is newest first */
		struct fetch *f = m->landed;
		m->landed = f->next;
		f->next = list;
		list = f;
	}
	pthread_mutex_unlock(&m->pull_lock);
	while (list) {
		struct fetch *f = list;
		list = f->next;
		uint64_t off = f->c << m->shift;
		if ((ch_get(m, f->c) & CH_RES) == CH_PRESENT && !atomic_load(&m->stopping))
			m->on_pulled(m->cb_arg, off, ch_len(m, f->c), m->cache + off);
		free(f);
	}
	pthread_mutex_lock(&m->pull_lock);
}

/* The pull thread: fill the window first, then deliver landed chunks,
 * sleep when there is neither. */
static void *pull_run(void *arg)
{
	struct managed *m = arg;
	pthread_mutex_lock(&m->pull_lock);
	while (!atomic_load(&m->stopping)) {
		unsigned work = m->pull_work;
		uint64_t c;
		if (!m->pull_paused && m->pull_now < m->pull_max && !atomic_load(&m->pull_failed) && pull_pick(m, &c)) {
			m->pull_now++;
			pthread_mutex_unlock(&m->pull_lock);
			pull_submit(m, c);
			pthread_mutex_lock(&m->pull_lock);
			continue;
		}
		if (m->landed) {
			pull_deliver(m);
			continue;
		}
		while (work == m->pull_work && !atomic_load(&m->stopping))
			pthread_cond_wait(&m->pull_cond, &m->pull_lock);
	}
	pthread_mutex_unlock(&m->pull_lock);
	return NULL;
}

/* Start the pull thread unless the background pull is off. */
int pull_start(struct managed *m, struct err *e)
{
	if (m->pull_max < 0)
		return 0;
	int rc = pthread_create(&m->pull_thread, NULL, pull_run, m);
	if (rc)
		return err_errno(e, rc, "managed: pull thread");
	m->pull_started = 1;
	return 0;
}

/* Put chunk c at the head of the background pull and wake it. */
void pull_requeue(struct managed *m, uint64_t c)
{
	pthread_mutex_lock(&m->pull_lock);
	if (prio_push(m, c))
		log_warn("managed: out of memory queueing chunk %" PRIu64 " (the scan still finds it)", c);
	m->scan_run = 0;
	m->pull_work++;
	pthread_cond_broadcast(&m->pull_cond);
	pthread_mutex_unlock(&m->pull_lock);
}

/* Stop submitting; wait until no background fetch is in flight. */
void pull_pause(struct managed *m)
{
	pthread_mutex_lock(&m->pull_lock);
	m->pull_paused++;
	while (m->pull_now > 0)
		pthread_cond_wait(&m->pull_cond, &m->pull_lock);
	pthread_mutex_unlock(&m->pull_lock);
}

/* Let the pull submit again. */
void pull_resume(struct managed *m)
{
	pthread_mutex_lock(&m->pull_lock);
	m->pull_paused--;
	m->pull_work++;
	pthread_cond_broadcast(&m->pull_cond);
	pthread_mutex_unlock(&m->pull_lock);
}

/* Wake the pull thread and everyone waiting for the pull (closing). */
void pull_wake_all(struct managed *m)
{
	pthread_mutex_lock(&m->pull_lock);
	m->pull_work++;
	pthread_cond_broadcast(&m->pull_cond);
	pthread_cond_broadcast(&m->done_cond);
	pthread_mutex_unlock(&m->pull_lock);
}

/* Wait until every chunk is present, the pull failed, or the timeout. */
int managed_wait_pulled(struct managed *m, int timeout_ms, struct err *e)
{
	struct timespec deadline;
	if (timeout_ms >= 0)
		managed_deadline(&deadline, (unsigned long long)timeout_ms * 1000000ull);
	pthread_mutex_lock(&m->pull_lock);
	while (atomic_load(&m->present) < m->nchunks && !atomic_load(&m->pull_failed) && !atomic_load(&m->stopping)) {
		if (timeout_ms < 0)
			pthread_cond_wait(&m->done_cond, &m->pull_lock);
		else if (pthread_cond_timedwait(&m->done_cond, &m->pull_lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&m->pull_lock);
	uint64_t present = atomic_load(&m->present);
	if (present >= m->nchunks)
		return 0;
	if (atomic_load(&m->pull_failed)) {
		int code = atomic_load(&m->last_error);
		return err_errno(e, code ? code : EIO, "managed: the background pull from %s failed (%" PRIu64
				 " of %" PRIu64 " chunks present)", remote_uri(m->r), present, m->nchunks);
	}
	return err_errno(e, ETIMEDOUT, "managed: pull not complete after %d ms (%" PRIu64 " of %" PRIu64 " chunks present)",
			 timeout_ms, present, m->nchunks);
}

/* Make chunk c absent once no fetch, fill or push of it is in flight. */
static void invalidate_one(struct managed *m, uint64_t c)
{
	struct stripe *s = ch_stripe(m, c);
	pthread_mutex_lock(&s->lock);
	uint8_t v;
	while (((v = ch_get(m, c)) & CH_RES) == CH_FETCHING || (v & CH_RES) == CH_FILLING || (v & CH_PUSHING))
		pthread_cond_wait(&s->cond, &s->lock);
	if ((v & CH_RES) == CH_PRESENT) {
		atomic_fetch_sub(&m->present, 1);
		atomic_store(&m->pull_done_ns, 0);
	}
	if (v & CH_DIRTY)
		atomic_fetch_sub(&m->dirty, 1);
	ch_set(m, c, (uint8_t)(v & ~(CH_RES | CH_DIRTY))); /* stays QUEUED: the push round drops it */
	pthread_mutex_unlock(&s->lock);
}

/* Mark chunks absent (dropping local changes) and pull them first. */
int managed_invalidate(struct managed *m, const uint64_t *chunks, size_t n, struct err *e)
{
	for (size_t i = 0; i < n; i++)
		if (chunks[i] >= m->nchunks)
			return err_errno(e, EINVAL, "managed: invalidate: chunk %" PRIu64 " is outside the region (%" PRIu64
					 " chunks)", chunks[i], m->nchunks);
	for (size_t i = 0; i < n; i++)
		invalidate_one(m, chunks[i]);
	pthread_mutex_lock(&m->pull_lock);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (prio_push(m, chunks[i]))
			rc = err_errno(e, ENOMEM, "managed: invalidate");
	m->scan_run = 0; /* whatever the ring could not take, the scan finds */
	m->pull_work++;
	pthread_cond_broadcast(&m->pull_cond);
	pthread_mutex_unlock(&m->pull_lock);
	return rc;
}
