/*
 * remote.c - the libnbd client for the remote region as its users see it:
 * requests split into NBD-sized pieces over the connections round-robin,
 * a bounded in-flight window, synchronous calls on top of the
 * asynchronous ones, connect and a close that a dead link cannot hang
 * (see remote.h; one connection's machinery is in remote_conn.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "chunk.h"
#include "log.h"
#include "remote_int.h"

#define MAX_PIECE (32u * 1024 * 1024) /* the NBD maximum block size we rely on */
#define CLOSE_TIMEOUT_MS 10000        /* default close_timeout_ms */
#define CONNECT_TIMEOUT_MS 15000      /* default connect_timeout_ms */

/* Built with libnbd. */
int remote_available(void)
{
	return 1;
}

/* Take a slot in the in-flight window (never blocks on a poller thread). */
static void window_acquire(struct remote *r)
{
	pthread_mutex_lock(&r->win_lock);
	while (!remote_current_poller && r->inflight >= r->max_inflight)
		pthread_cond_wait(&r->win_cond, &r->win_lock);
	r->inflight++;
	if ((uint64_t)r->inflight > atomic_load(&r->max_seen))
		atomic_store(&r->max_seen, (uint64_t)r->inflight);
	pthread_mutex_unlock(&r->win_lock);
}

/* Pick the next usable connection, round-robin; NULL if all are broken. */
static struct rconn *pick_conn(struct remote *r)
{
	for (int i = 0; i < r->nconn; i++) {
		struct rconn *c = &r->conns[atomic_fetch_add(&r->rr, 1) % (unsigned)r->nconn];
		if (!c->broken)
			return c;
	}
	return NULL;
}

/* Record r's fatal error (or a generic one) into e. */
static int fatal_error(struct remote *r, struct err *e)
{
	pthread_mutex_lock(&r->err_lock);
	if (r->fatal.set)
		err_set(e, "%s", r->fatal.msg);
	else
		err_set(e, "remote: no usable connection to %s", r->uri);
	pthread_mutex_unlock(&r->err_lock);
	if (e)
		e->code = ENOTCONN;
	return -1;
}

/* Split one user request into NBD requests and submit them. */
static int submit(struct remote *r, enum rop op, void *buf, size_t len, uint64_t off, remote_done_fn done,
		  void *arg, struct err *e)
{
	if (op != ROP_FLUSH && (off > r->size || len > r->size - off))
		return err_errno(e, EINVAL, "remote: %s of %zu bytes at %" PRIu64 " is outside the export (%" PRIu64 " bytes)",
				 op == ROP_READ ? "read" : "write", len, off, r->size);
	if (op != ROP_FLUSH && len == 0) {
		done(arg, 0);
		return 0;
	}
	if (!pick_conn(r))
		return fatal_error(r, e);
	struct rgroup *g = calloc(1, sizeof *g);
	if (!g)
		return err_errno(e, errno, "remote: request");
	uint64_t pieces = op == ROP_FLUSH ? 1 : chunk_count(off, len, r->piece);
	atomic_init(&g->remaining, (int)pieces);
	g->done = done;
	g->arg = arg;
	struct chunk_iter it;
	chunk_iter_init(&it, off, op == ROP_FLUSH ? 1 : len, r->piece);
	uint64_t poff, plen;
	while (chunk_next(&it, &poff, &plen)) {
		struct rreq *q = calloc(1, sizeof *q);
		struct rconn *c = pick_conn(r);
		if (!c)
			c = &r->conns[0];
		if (!q) { /* the piece fails; the group still completes exactly once */
			log_warn("remote: out of memory for a request");
			atomic_fetch_add(&r->errors, 1);
			atomic_store(&r->failed_since_drain, 1);
			int zero = 0;
			atomic_compare_exchange_strong(&g->error, &zero, ENOMEM);
			if (atomic_fetch_sub(&g->remaining, 1) == 1) {
				g->done(g->arg, ENOMEM);
				free(g);
			}
			continue;
		}
		q->r = r;
		q->g = g;
		q->op = op;
		q->buf = op == ROP_FLUSH ? NULL : (unsigned char *)buf + (poff - off);
		q->len = (size_t)plen;
		q->off = poff;
		window_acquire(r);
		rconn_submit(c, q);
	}
	return 0;
}

/* Asynchronous read. */
int remote_aio_pread(struct remote *r, void *buf, size_t len, uint64_t off, remote_done_fn done, void *arg,
		     struct err *e)
{
	return submit(r, ROP_READ, buf, len, off, done, arg, e);
}

/* Asynchronous write. */
int remote_aio_pwrite(struct remote *r, const void *buf, size_t len, uint64_t off, remote_done_fn done,
		      void *arg, struct err *e)
{
	return submit(r, ROP_WRITE, (void *)buf, len, off, done, arg, e);
}

/* A caller blocked until its request completes. */
struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, error;
};

/* Completion for synchronous calls. */
static void sync_done(void *arg, int error)
{
	struct sync_wait *w = arg;
	pthread_mutex_lock(&w->lock);
	w->done = 1;
	w->error = error;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Submit and wait. */
static int submit_wait(struct remote *r, enum rop op, void *buf, size_t len, uint64_t off, struct err *e)
{
	if (remote_current_poller)
		return err_set(e, "remote: synchronous call from a completion callback");
	struct sync_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	if (submit(r, op, buf, len, off, sync_done, &w, e))
		return -1;
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	if (w.error) {
		if (w.error == ENOTCONN)
			return fatal_error(r, e);
		return err_errno(e, w.error, "remote: %s of %zu bytes at %" PRIu64,
				 op == ROP_READ ? "read" : op == ROP_WRITE ? "write" : "flush", len, off);
	}
	return 0;
}

/* Synchronous read. */
int remote_pread(struct remote *r, void *buf, size_t len, uint64_t off, struct err *e)
{
	return submit_wait(r, ROP_READ, buf, len, off, e);
}

/* Synchronous write. */
int remote_pwrite(struct remote *r, const void *buf, size_t len, uint64_t off, struct err *e)
{
	return submit_wait(r, ROP_WRITE, (void *)buf, len, off, e);
}

/* Wait for the window to empty. */
int remote_drain(struct remote *r, struct err *e)
{
	if (remote_current_poller)
		return err_set(e, "remote: drain from a completion callback");
	pthread_mutex_lock(&r->win_lock);
	while (r->inflight > 0)
		pthread_cond_wait(&r->win_cond, &r->win_lock);
	pthread_mutex_unlock(&r->win_lock);
	if (atomic_exchange(&r->failed_since_drain, 0)) {
		pthread_mutex_lock(&r->err_lock);
		if (r->fatal.set)
			err_set(e, "%s", r->fatal.msg);
		else
			err_errno(e, EIO, "remote: requests to %s failed", r->uri);
		pthread_mutex_unlock(&r->err_lock);
		return -1;
	}
	return 0;
}

/* Drain and flush once (multi-conn: a flush covers every connection). */
int remote_flush(struct remote *r, struct err *e)
{
	if (remote_drain(r, e))
		return -1;
	return submit_wait(r, ROP_FLUSH, NULL, 0, 0, e);
}

/* Export size. */
uint64_t remote_size(struct remote *r)
{
	return r->size;
}

/* The URI connected to. */
const char *remote_uri(struct remote *r)
{
	return r->uri;
}

/* Copy the counters. */
void remote_stats(struct remote *r, struct remote_stats *s)
{
	s->reads = atomic_load(&r->reads);
	s->writes = atomic_load(&r->writes);
	s->flushes = atomic_load(&r->flushes);
	s->bytes_read = atomic_load(&r->bytes_read);
	s->bytes_written = atomic_load(&r->bytes_written);
	s->errors = atomic_load(&r->errors);
	s->reconnects = atomic_load(&r->reconnects);
	s->retried = atomic_load(&r->retried);
	s->max_inflight_seen = atomic_load(&r->max_seen);
	s->nconn = r->nconn;
}

/* Connect with defaults. */
struct remote *remote_connect(const char *uri, int nconn, struct err *e)
{
	struct remote_opts o = {.uri = uri, .nconn = nconn};
	return remote_connect_opts(&o, e);
}

/* A client for uri with o's settings and no connection open yet. */
static struct remote *remote_alloc(const struct remote_opts *o, const char *uri, struct err *e)
{
	struct remote *r = calloc(1, sizeof *r);
	if (!r)
		return err_errno(e, errno, "remote"), NULL;
	r->uri = strdup(uri);
	r->nconn = o->nconn > 0 ? o->nconn : 1;
	r->max_inflight = o->max_inflight > 0 ? o->max_inflight : 64;
	r->retries = o->retries == 0 ? 5 : o->retries < 0 ? 0 : o->retries;
	r->close_timeout_ms = o->close_timeout_ms == 0 ? CLOSE_TIMEOUT_MS : o->close_timeout_ms < 0 ? -1 : o->close_timeout_ms;
	r->connect_timeout_ms = o->connect_timeout_ms == 0 ? CONNECT_TIMEOUT_MS
				: o->connect_timeout_ms < 0 ? -1 : o->connect_timeout_ms;
	r->piece = o->chunk_size && o->chunk_size < MAX_PIECE ? o->chunk_size : MAX_PIECE;
	pthread_mutex_init(&r->win_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* for the bounded wait in remote_close */
	pthread_cond_init(&r->win_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&r->err_lock, NULL);
	r->conns = calloc((size_t)r->nconn, sizeof *r->conns);
	if (!r->uri || !r->conns) {
		err_errno(e, ENOMEM, "remote");
		remote_close(r);
		return NULL;
	}
	for (int i = 0; i < r->nconn; i++) {
		struct rconn *c = &r->conns[i];
		c->r = r;
		c->idx = i;
		c->wake_fd = -1;
		pthread_mutex_init(&c->lock, NULL);
		pthread_mutex_init(&c->done_lock, NULL);
	}
	return r;
}

/* Open every connection; the first one tells the size, the largest
 * request and whether the server allows more than one connection. */
static int remote_open_conns(struct remote *r, struct err *e)
{
	for (int i = 0; i < r->nconn; i++) {
		struct rconn *c = &r->conns[i];
		c->h = rconn_open_handle(r, e);
		if (!c->h)
			return -1;
		if (i > 0)
			continue;
		int64_t size = nbd_get_size(c->h);
		if (size < 0)
			return err_set(e, "remote: size of %s: %s", r->uri, nbd_get_error());
		r->size = (uint64_t)size;
		int64_t max = nbd_get_block_size(c->h, LIBNBD_SIZE_MAXIMUM);
		if (max > 0 && (uint64_t)max < r->piece)
			r->piece = (uint64_t)max;
		if (r->nconn > 1 && nbd_can_multi_conn(c->h) != 1) {
			log_warn("remote: %s does not allow multi-conn; using one connection", r->uri);
			r->nconn = 1;
		}
	}
	return 0;
}

/* Start one poller thread (with its wake-up eventfd) per connection. */
static int remote_start_pollers(struct remote *r, struct err *e)
{
	for (int i = 0; i < r->nconn; i++) {
		struct rconn *c = &r->conns[i];
		c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (c->wake_fd < 0)
			return err_errno(e, errno, "remote: eventfd");
		int rc = pthread_create(&c->poller, NULL, rconn_poller_run, c);
		if (rc)
			return err_errno(e, rc, "remote: poller thread");
		c->poller_started = 1;
	}
	return 0;
}

/* Open every connection and start the pollers. */
struct remote *remote_connect_opts(const struct remote_opts *o, struct err *e)
{
	char built[4096];
	if (!o)
		return err_set(e, "remote: no options"), NULL;
	if (!o->uri && remote_build_uri(o, built, sizeof built, e))
		return NULL;
	struct remote *r = remote_alloc(o, o->uri ? o->uri : built, e);
	if (!r)
		return NULL;
	if (remote_open_conns(r, e) || remote_start_pollers(r, e)) {
		remote_close(r);
		return NULL;
	}
	return r;
}

/* Wait for the window to empty, giving up once no request has completed
 * for timeout_ms (-1: never); returns how many are still in flight. */
static int drain_bounded(struct remote *r, int timeout_ms)
{
	pthread_mutex_lock(&r->win_lock);
	int last = r->inflight;
	int64_t deadline = remote_now_ms() + timeout_ms;
	while (r->inflight > 0) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&r->win_cond, &r->win_lock);
			continue;
		}
		if (r->inflight < last) { /* progress: the link is alive */
			last = r->inflight;
			deadline = remote_now_ms() + timeout_ms;
		}
		int64_t left = deadline - remote_now_ms();
		if (left <= 0)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (left % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&r->win_cond, &r->win_lock, &ts);
	}
	int left = r->inflight;
	pthread_mutex_unlock(&r->win_lock);
	return left;
}

/* Send NBD_CMD_DISC and wait until the server closes, at most until deadline (ms). */
static void disconnect_bounded(struct nbd_handle *h, int64_t deadline)
{
	if (!nbd_aio_is_ready(h) || nbd_aio_in_flight(h) > 0 || nbd_aio_disconnect(h, 0) == -1)
		return;
	while (!nbd_aio_is_closed(h) && !nbd_aio_is_dead(h)) {
		int64_t left = deadline < 0 ? -1 : deadline - remote_now_ms();
		if (deadline >= 0 && left <= 0)
			return;
		unsigned dir = nbd_aio_get_direction(h);
		struct pollfd p = {nbd_aio_get_fd(h), (short)((dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
							      (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0)), 0};
		int n = poll(&p, 1, left > 1000 || left < 0 ? 1000 : (int)left);
		if (n < 0 && errno != EINTR)
			return;
		if (p.revents & (POLLIN | POLLHUP | POLLERR))
			nbd_aio_notify_read(h);
		else if (p.revents & POLLOUT)
			nbd_aio_notify_write(h);
	}
}

/* Drain (bounded), stop the pollers, disconnect politely (bounded), free. */
int remote_close_err(struct remote *r, struct err *e)
{
	if (!r)
		return 0;
	int started = r->conns && r->conns[0].poller_started;
	int stuck = started ? drain_bounded(r, r->close_timeout_ms) : 0;
	atomic_store(&r->stopping, 1);
	for (int i = 0; r->conns && i < r->nconn; i++)
		if (r->conns[i].poller_started)
			rconn_wake(&r->conns[i]);
	for (int i = 0; r->conns && i < r->nconn; i++)
		if (r->conns[i].poller_started)
			pthread_join(r->conns[i].poller, NULL);
	int64_t deadline = r->close_timeout_ms < 0 ? -1 : remote_now_ms() + (stuck ? 0 : r->close_timeout_ms);
	int abandoned = 0;
	for (int i = 0; r->conns && i < r->nconn; i++) {
		struct rconn *c = &r->conns[i];
		if (c->h) {
			disconnect_bounded(c->h, deadline);
			nbd_close(c->h); /* frees what libnbd holds; no callbacks */
			c->h = NULL;
		}
		abandoned += rconn_abandon(c);
		if (c->wake_fd >= 0)
			close(c->wake_fd);
		pthread_mutex_destroy(&c->lock);
		pthread_mutex_destroy(&c->done_lock);
	}
	int rc = 0;
	if (stuck || abandoned) {
		rc = err_set(e, "remote: close: %d request(s) to %s got no reply within %d ms (link or server dead?); "
			     "abandoned them", stuck > abandoned ? stuck : abandoned, r->uri, r->close_timeout_ms);
		if (e)
			e->code = ETIMEDOUT;
	} else if (atomic_load(&r->failed_since_drain)) {
		log_debug("remote: close: earlier requests to %s failed", r->uri);
	}
	pthread_mutex_destroy(&r->win_lock);
	pthread_cond_destroy(&r->win_cond);
	pthread_mutex_destroy(&r->err_lock);
	free(r->conns);
	free(r->uri);
	free(r);
	return rc;
}

/* Close, logging a request that had to be abandoned. */
void remote_close(struct remote *r)
{
	struct err e = {0};
	if (remote_close_err(r, &e))
		log_warn("%s", e.msg);
}
