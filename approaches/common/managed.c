/*
 * managed.c - the managed engine (managed.h): the cache, chunk states,
 * demand reads (fetch at once, or join the fetch in flight), writes into
 * the cache, counters, creation and shutdown. Chunk arrival is in
 * managed_state.c, the background pull in managed_pull.c, pushing in
 * managed_push.c, the engine as a backend in managed_backend.c, the shared
 * internals in managed_int.h.
 */
#include "managed_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "log.h"
#include "remote.h"

#define DEFAULT_CHUNK (1u << 20)
#define DEFAULT_INFLIGHT 64
#define DEFAULT_RETRY_MS 10000
#define DEFAULT_CLOSE_TIMEOUT_MS 10000

/* ---- demand fetches ---- */

/* Completion of a demand fetch (poller thread). */
static void demand_done(void *arg, int error)
{
	struct fetch *f = arg;
	struct managed *m = f->m;
	if (!error) { /* counted before the chunk shows as present */
		atomic_fetch_add(&m->demand_fetches, 1);
		atomic_fetch_add(&m->bytes_demand, ch_len(m, f->c));
	} else {
		atomic_store(&m->last_error, error);
	}
	managed_landed(m, f->c, error);
	if (error)
		pull_requeue(m, f->c); /* the background pull gets it if no reader does */
	free(f);
	atomic_fetch_sub(&m->io_inflight, 1);
}

/* Chunk c is absent: claim it and fetch it now; or count a join of the
 * fetch in flight. Returns -1 (in e) when the fetch could not be sent. */
static int demand_claim(struct managed *m, uint64_t c, int count_join, struct err *e)
{
	struct stripe *s = ch_stripe(m, c);
	pthread_mutex_lock(&s->lock);
	uint8_t v = ch_get(m, c);
	if ((v & CH_RES) != CH_ABSENT) {
		pthread_mutex_unlock(&s->lock);
		if ((v & CH_RES) == CH_FETCHING && count_join)
			atomic_fetch_add(&m->demand_joins, 1);
		return 0;
	}
	ch_set(m, c, (uint8_t)((v & ~CH_RES) | CH_FETCHING));
	pthread_mutex_unlock(&s->lock);
	struct fetch *f = malloc(sizeof *f);
	if (!f) {
		managed_landed(m, c, ENOMEM);
		return err_errno(e, ENOMEM, "managed: fetch of chunk %" PRIu64, c);
	}
	f->m = m;
	f->c = c;
	atomic_fetch_add(&m->io_inflight, 1);
	uint64_t off = c << m->shift;
	if (remote_aio_pread(m->rd, m->cache + off, ch_len(m, c), off, demand_done, f, e)) {
		free(f);
		atomic_fetch_sub(&m->io_inflight, 1);
		managed_landed(m, c, e && e->code ? e->code : EIO);
		return -1;
	}
	return 0;
}

/* Wait until chunks first, first+step, .., last are neither fetching nor
 * filling (or the deadline passes); returns the first one not present, or
 * UINT64_MAX when all are. */
static uint64_t demand_wait(struct managed *m, uint64_t first, uint64_t last, uint64_t step,
			    const struct timespec *deadline)
{
	for (uint64_t c = first; c <= last; c += step) {
		if ((ch_get(m, c) & CH_RES) == CH_PRESENT)
			continue;
		struct stripe *s = ch_stripe(m, c);
		pthread_mutex_lock(&s->lock);
		int res;
		while ((res = ch_get(m, c) & CH_RES) == CH_FETCHING || res == CH_FILLING)
			if (pthread_cond_timedwait(&s->cond, &s->lock, deadline) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&s->lock);
		if (res != CH_PRESENT)
			return c;
	}
	return UINT64_MAX;
}

/* Make chunks first, first+step, .., last present: fetch the absent ones
 * at once (all in flight together), join those in flight, retry failed
 * fetches until retry_ms has passed. Sets the follow hint when it fetched. */
static int demand(struct managed *m, uint64_t first, uint64_t last, uint64_t step, struct err *e)
{
	unsigned long long start = now_ns(), limit = (unsigned long long)m->retry_ms * 1000000ull;
	struct timespec deadline;
	managed_deadline(&deadline, limit);
	struct err sub = {0};
	int sleep_ms = 10;
	for (int round = 0;; round++) {
		for (uint64_t c = first; c <= last; c += step)
			if ((ch_get(m, c) & CH_RES) != CH_PRESENT)
				demand_claim(m, c, round == 0, &sub);
		if (round == 0) {
			atomic_store(&m->follow_next, last + 1);
			atomic_fetch_add(&m->follow_seq, 1);
		}
		uint64_t missing = demand_wait(m, first, last, step, &deadline);
		if (missing == UINT64_MAX)
			return 0;
		unsigned long long spent = now_ns() - start;
		if (spent >= limit) {
			int code = sub.set && sub.code ? sub.code : atomic_load(&m->last_error);
			err_set(e, "managed: chunk %" PRIu64 " (offset %" PRIu64 ") not fetched within %d ms: %s", missing,
				missing << m->shift, m->retry_ms,
				sub.set ? sub.msg : code ? strerror(code) : "no reply from the remote");
			if (e)
				e->code = code ? code : ETIMEDOUT;
			return -1;
		}
		unsigned long long left_ms = (limit - spent) / 1000000ull;
		struct timespec ts = {0, (long)(left_ms < (unsigned)sleep_ms ? left_ms : (unsigned)sleep_ms) * 1000000L};
		nanosleep(&ts, NULL);
		sleep_ms = sleep_ms < 500 ? sleep_ms * 2 : 500;
	}
}

/* ---- reads and writes ---- */

/* Is [off, off+len) inside the region? */
static int check_range(struct managed *m, const char *what, size_t len, uint64_t off, struct err *e)
{
	if (off > m->size || len > m->size - off)
		return err_errno(e, EINVAL, "managed: %s of %zu bytes at %" PRIu64 " is outside the region (%" PRIu64 " bytes)",
				 what, len, off, m->size);
	return 0;
}

/* Read [off, off+len) from the cache, fetching absent chunks first. */
int managed_read(struct managed *m, void *buf, size_t len, uint64_t off, struct err *e)
{
	if (check_range(m, "read", len, off, e))
		return -1;
	if (!len)
		return 0;
	uint64_t c0 = off >> m->shift, c1 = (off + len - 1) >> m->shift;
	for (uint64_t c = c0; c <= c1; c++) {
		if ((ch_get(m, c) & CH_RES) != CH_PRESENT) {
			if (demand(m, c, c1, 1, e))
				return -1;
			break;
		}
	}
	memcpy(buf, m->cache + off, len);
	return 0;
}

/* Copy part of a write into chunk c ([coff, coff+clen) of the chunk). A
 * chunk covered whole is filled without fetching; a partly covered absent
 * one is fetched first; a chunk being fetched is waited for. */
static int write_chunk(struct managed *m, uint64_t c, const unsigned char *src, size_t coff, size_t clen,
		       struct err *e)
{
	struct stripe *s = ch_stripe(m, c);
	unsigned char *dst = m->cache + (c << m->shift) + coff;
	int whole = coff == 0 && clen == ch_len(m, c);
	for (;;) {
		pthread_mutex_lock(&s->lock);
		uint8_t v = ch_get(m, c);
		int res = v & CH_RES;
		if (res == CH_PRESENT) { /* under the lock: a push snapshot sees all of it or none */
			memcpy(dst, src, clen);
			push_mark_dirty_locked(m, c);
			pthread_mutex_unlock(&s->lock);
			break;
		}
		if (res == CH_ABSENT && whole) {
			ch_set(m, c, (uint8_t)((v & ~CH_RES) | CH_FILLING));
			pthread_mutex_unlock(&s->lock);
			memcpy(dst, src, clen);
			pthread_mutex_lock(&s->lock);
			ch_set(m, c, (uint8_t)((ch_get(m, c) & ~CH_RES) | CH_PRESENT));
			int last = managed_present_inc_locked(m);
			push_mark_dirty_locked(m, c);
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
			if (last)
				managed_pull_done_signal(m);
			break;
		}
		if (res == CH_ABSENT) {
			pthread_mutex_unlock(&s->lock);
			if (demand(m, c, c, 1, e))
				return -1;
			continue;
		}
		pthread_cond_wait(&s->cond, &s->lock); /* fetching or filling */
		pthread_mutex_unlock(&s->lock);
	}
	if (atomic_load_explicit(&m->tracking, memory_order_relaxed))
		atomic_store(&m->track[c], 1);
	return 0;
}

/* Write into the cache and mark the chunks dirty. */
int managed_write(struct managed *m, const void *buf, size_t len, uint64_t off, struct err *e)
{
	if (check_range(m, "write", len, off, e))
		return -1;
	if (!len)
		return 0;
	uint64_t c0 = off >> m->shift, c1 = (off + len - 1) >> m->shift;
	uint64_t end = off + len;
	int head = (off & (m->chunk - 1)) != 0 || (c0 == c1 && end - (c0 << m->shift) < ch_len(m, c0));
	int tail = c1 != c0 && end - (c1 << m->shift) < ch_len(m, c1);
	/* fetch the partly covered ends together, then copy */
	int head_absent = head && (ch_get(m, c0) & CH_RES) != CH_PRESENT;
	int tail_absent = tail && (ch_get(m, c1) & CH_RES) != CH_PRESENT;
	if (head_absent || tail_absent) {
		uint64_t first = head_absent ? c0 : c1, last = tail_absent ? c1 : c0;
		if (demand(m, first, last, last > first ? last - first : 1, e))
			return -1;
	}
	const unsigned char *src = buf;
	for (uint64_t c = c0; c <= c1; c++) {
		uint64_t cstart = c << m->shift;
		uint64_t from = off > cstart ? off : cstart, to = end < cstart + m->chunk ? end : cstart + m->chunk;
		if (write_chunk(m, c, src + (from - off), (size_t)(from - cstart), (size_t)(to - from), e))
			return -1;
	}
	return 0;
}

/* ---- counters ---- */

/* Copy the counters. */
void managed_stats(struct managed *m, struct managed_stats *s)
{
	memset(s, 0, sizeof *s);
	s->chunk_size = m->chunk;
	s->chunks = m->nchunks;
	s->chunks_present = atomic_load(&m->present);
	s->chunks_dirty = atomic_load(&m->dirty);
	s->demand_fetches = atomic_load(&m->demand_fetches);
	s->demand_joins = atomic_load(&m->demand_joins);
	s->bytes_pulled_demand = atomic_load(&m->bytes_demand);
	s->bytes_pulled_background = atomic_load(&m->bytes_background);
	s->pull_done_ns = atomic_load(&m->pull_done_ns);
	s->bytes_pushed = atomic_load(&m->bytes_pushed);
	s->chunks_pushed = atomic_load(&m->chunks_pushed);
	s->chunks_resent = atomic_load(&m->chunks_resent);
	s->pushes = atomic_load(&m->pushes);
	s->pull_failed = atomic_load(&m->pull_failed);
}

/* Region size. */
uint64_t managed_size(const struct managed *m)
{
	return m->size;
}

/* ---- creation and shutdown ---- */

/* Copy the options with their defaults applied, rejecting bad values. */
static int opts_apply(struct managed *m, const struct managed_opts *o, struct err *e)
{
	m->chunk = o->chunk_size ? o->chunk_size : DEFAULT_CHUNK;
	if (m->chunk < 4096 || m->chunk > (1u << 20) || (m->chunk & (m->chunk - 1)))
		return err_errno(e, EINVAL, "managed: chunk size %" PRIu64 " is not a power of two from 4 KiB to 1 MiB",
				 o->chunk_size);
	m->shift = (unsigned)__builtin_ctzll(m->chunk);
	if (o->pull_inflight < -1 || o->push_inflight < 0 || o->retry_ms < 0 || o->close_timeout_ms < 0)
		return err_errno(e, EINVAL, "managed: negative pull_inflight, push_inflight, retry_ms or close_timeout_ms");
	if (o->order < MANAGED_ORDER_LINEAR || o->order > MANAGED_ORDER_FOLLOW)
		return err_errno(e, EINVAL, "managed: unknown pull order %d", (int)o->order);
	if (o->order == MANAGED_ORDER_LIST && !o->order_file)
		return err_errno(e, EINVAL, "managed: the list order needs an order file");
	m->pull_max = o->pull_inflight ? o->pull_inflight : DEFAULT_INFLIGHT;
	m->push_max = o->push_inflight ? o->push_inflight : DEFAULT_INFLIGHT;
	m->push_interval_ns = o->push_interval_ns;
	m->retry_ms = o->retry_ms ? o->retry_ms : DEFAULT_RETRY_MS;
	m->close_timeout_ms = o->close_timeout_ms ? o->close_timeout_ms : DEFAULT_CLOSE_TIMEOUT_MS;
	m->order = o->order;
	m->on_pulled = o->on_pulled;
	m->cb_arg = o->cb_arg;
	return 0;
}

/* Map the cache: anonymous memory, or a file at path (a directory: an
 * unnamed file in it). The file is unlinked at once: nothing is left behind. */
static int cache_open(struct managed *m, const char *path, struct err *e)
{
	m->cache_fd = -1;
	m->map_len = (size_t)(m->nchunks << m->shift);
	int flags = MAP_SHARED;
	if (path) {
		struct stat sb;
		int isdir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
		m->cache_fd = isdir ? open(path, O_RDWR | O_TMPFILE | O_CLOEXEC, 0600)
				    : open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (m->cache_fd < 0)
			return err_errno(e, errno, "managed: cache file %s", path);
		if (!isdir)
			unlink(path);
		if (ftruncate(m->cache_fd, (off_t)m->map_len))
			return err_errno(e, errno, "managed: cache file %s: size %zu", path, m->map_len);
	} else {
		flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	}
	void *p = mmap(NULL, m->map_len, PROT_READ | PROT_WRITE, flags, m->cache_fd, 0);
	if (p == MAP_FAILED)
		return err_errno(e, errno, "managed: cache of %zu bytes", m->map_len);
	m->cache = p;
	return 0;
}

/* Initialise the locks and allocate the per-chunk arrays. */
static int state_init(struct managed *m, struct err *e)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&m->pull_lock, NULL);
	pthread_cond_init(&m->pull_cond, &ca);
	pthread_cond_init(&m->done_cond, &ca);
	pthread_mutex_init(&m->q_lock, NULL);
	pthread_mutex_init(&m->round_lock, NULL);
	pthread_mutex_init(&m->flush_lock, NULL);
	pthread_mutex_init(&m->pw_lock, NULL);
	pthread_cond_init(&m->pw_cond, &ca);
	m->stripes = calloc(MANAGED_STRIPES, sizeof *m->stripes);
	for (int i = 0; m->stripes && i < MANAGED_STRIPES; i++) {
		pthread_mutex_init(&m->stripes[i].lock, NULL);
		pthread_cond_init(&m->stripes[i].cond, &ca);
	}
	pthread_condattr_destroy(&ca);
	/* calloc of large arrays maps zero pages lazily: untouched parts cost nothing */
	m->st = calloc(m->nchunks, sizeof *m->st);
	m->track = calloc(m->nchunks, sizeof *m->track);
	m->queue = calloc(m->nchunks, sizeof *m->queue);
	m->queue_spare = calloc(m->nchunks, sizeof *m->queue_spare);
	m->prio_cap = 64;
	m->prio = calloc(m->prio_cap, sizeof *m->prio);
	if (!m->stripes || !m->st || !m->track || !m->queue || !m->queue_spare || !m->prio)
		return err_errno(e, ENOMEM, "managed: state of %" PRIu64 " chunks", m->nchunks);
	return 0;
}

/* Free everything (threads stopped, nothing in flight). */
static void managed_free(struct managed *m)
{
	while (m->landed) {
		struct fetch *f = m->landed;
		m->landed = f->next;
		free(f);
	}
	if (m->cache)
		munmap(m->cache, m->map_len);
	if (m->cache_fd >= 0)
		close(m->cache_fd);
	push_free(m);
	for (int i = 0; m->stripes && i < MANAGED_STRIPES; i++) {
		pthread_mutex_destroy(&m->stripes[i].lock);
		pthread_cond_destroy(&m->stripes[i].cond);
	}
	pthread_mutex_destroy(&m->pull_lock);
	pthread_cond_destroy(&m->pull_cond);
	pthread_cond_destroy(&m->done_cond);
	pthread_mutex_destroy(&m->q_lock);
	pthread_mutex_destroy(&m->round_lock);
	pthread_mutex_destroy(&m->flush_lock);
	pthread_mutex_destroy(&m->pw_lock);
	pthread_cond_destroy(&m->pw_cond);
	free(m->stripes);
	free((void *)m->st);
	free(m->track);
	free(m->queue);
	free(m->queue_spare);
	free(m->prio);
	free(m->order_list);
	free(m);
}

/* Create the engine over r and start its threads. */
struct managed *managed_new(struct remote *r, const struct managed_opts *o, struct err *e)
{
	static const struct managed_opts defaults;
	if (!r)
		return err_set(e, "managed: no remote"), NULL;
	struct managed *m = calloc(1, sizeof *m);
	if (!m)
		return err_errno(e, ENOMEM, "managed"), NULL;
	m->r = r;
	m->rd = o && o->demand_remote ? o->demand_remote : r;
	m->t0 = now_ns();
	m->cache_fd = -1;
	if (!o)
		o = &defaults;
	m->size = remote_size(r);
	if (opts_apply(m, o, e))
		goto fail_early;
	if (!m->size) {
		err_set(e, "managed: the remote %s is empty", remote_uri(r));
		goto fail_early;
	}
	if (remote_size(m->rd) != m->size) {
		err_errno(e, EINVAL, "managed: the demand remote %s has %" PRIu64 " bytes, not %" PRIu64, remote_uri(m->rd),
			  remote_size(m->rd), m->size);
		goto fail_early;
	}
	m->nchunks = (m->size + m->chunk - 1) >> m->shift;
	if (state_init(m, e) || cache_open(m, o->cache_path, e) || pull_order_init(m, o->order_file, e) ||
	    pull_start(m, e) || push_start(m, e)) {
		managed_close(m);
		return NULL;
	}
	return m;
fail_early:
	free(m);
	return NULL;
}

/* Join t within ns nanoseconds; 0 when it ended, else it is detached. */
static int join_within(pthread_t t, unsigned long long ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts); /* pthread_timedjoin_np's clock */
	unsigned long long sum = (unsigned long long)ts.tv_nsec + ns % 1000000000ull;
	ts.tv_sec += (time_t)(ns / 1000000000ull + sum / 1000000000ull);
	ts.tv_nsec = (long)(sum % 1000000000ull);
	if (pthread_timedjoin_np(t, NULL, &ts) == 0)
		return 0;
	pthread_detach(t);
	return -1;
}

/* Stop the threads, wait (bounded) for requests in flight, free. A
 * request the remote never answers leaves the engine allocated, so its
 * late completion touches valid memory. */
void managed_close(struct managed *m)
{
	if (!m)
		return;
	atomic_store(&m->stopping, 1);
	pull_wake_all(m);
	push_wake(m);
	unsigned long long start = now_ns(), limit = (unsigned long long)m->close_timeout_ms * 1000000ull;
	int stuck = 0;
	if (m->pull_started && join_within(m->pull_thread, limit))
		stuck = 1;
	unsigned long long spent = now_ns() - start;
	if (m->push_started && join_within(m->push_thread, spent < limit ? limit - spent : 0))
		stuck = 1;
	while (atomic_load(&m->io_inflight) > 0 && now_ns() - start < limit) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	int left = atomic_load(&m->io_inflight);
	if (stuck || left) {
		log_warn("managed: close: %d request(s) to %s still in flight after %d ms (remote dead?); "
			 "leaving the engine allocated", left, remote_uri(m->r), m->close_timeout_ms);
		return;
	}
	managed_free(m);
}
