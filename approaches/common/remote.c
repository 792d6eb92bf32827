/*
 * remote.c - libnbd client for the remote region: multi-conn, a poller
 * thread per connection, bounded in-flight window, reconnect with backoff
 * (see remote.h).
 */
#include "remote.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "chunk.h"
#include "log.h"

/* Append s to buf percent-encoded (keeping unreserved characters and '/'). */
static void uri_append(char *buf, size_t cap, const char *s)
{
	size_t n = strlen(buf);
	for (; *s && n + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~/", ch))
			buf[n++] = (char)ch;
		else
			n += (size_t)snprintf(buf + n, cap - n, "%%%02X", ch);
	}
	buf[n] = '\0';
}

/* nbd[s][+unix]://[user@]host:port/export?socket=..&tls-psk-file=.. */
int remote_build_uri(const struct remote_opts *o, char *buf, size_t cap, struct err *e)
{
	int tls = o->tls_psk_file || o->tls_certificates;
	if (!o->host == !o->unix_path)
		return err_set(e, "remote: give either a host or a UNIX socket path");
	if (cap < 64)
		return err_set(e, "remote: URI buffer too small");
	snprintf(buf, cap, "nbd%s%s://", tls ? "s" : "", o->unix_path ? "+unix" : "");
	if (o->tls_psk_file && o->tls_username) {
		uri_append(buf, cap, o->tls_username);
		strncat(buf, "@", cap - strlen(buf) - 1);
	}
	if (o->host) {
		int v6 = strchr(o->host, ':') != NULL;
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s%s:%s", v6 ? "[" : "", o->host, v6 ? "]" : "",
			 o->port ? o->port : "10809");
	}
	strncat(buf, "/", cap - strlen(buf) - 1);
	if (o->export_name)
		uri_append(buf, cap, o->export_name);
	const char *sep = "?";
	if (o->unix_path) {
		strncat(buf, "?socket=", cap - strlen(buf) - 1);
		uri_append(buf, cap, o->unix_path);
		sep = "&";
	}
	if (o->tls_psk_file) {
		snprintf(buf + strlen(buf), cap - strlen(buf), "%stls-psk-file=", sep);
		uri_append(buf, cap, o->tls_psk_file);
		sep = "&";
	}
	if (o->tls_certificates) {
		snprintf(buf + strlen(buf), cap - strlen(buf), "%stls-certificates=", sep);
		uri_append(buf, cap, o->tls_certificates);
	}
	if (strlen(buf) + 8 >= cap)
		return err_set(e, "remote: URI too long");
	return 0;
}

#ifdef MEMSYNC_HAVE_LIBNBD
#include <libnbd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIECE (32u * 1024 * 1024) /* the NBD maximum block size we rely on */
#define CLOSE_TIMEOUT_MS 10000        /* default close_timeout_ms */
#define CONNECT_TIMEOUT_MS 15000      /* default connect_timeout_ms */

enum rop { ROP_READ, ROP_WRITE, ROP_FLUSH };

/* One user request, possibly split into several NBD requests. */
struct rgroup {
	atomic_int remaining;
	atomic_int error;        /* first error */
	remote_done_fn done;
	void *arg;
};

/* One NBD request. */
struct rreq {
	struct remote *r;
	struct rconn *c;         /* connection it is in flight on */
	struct rgroup *g;
	enum rop op;
	void *buf;
	size_t len;
	uint64_t off;
	int error;
	int tries;
	struct rreq *next, *prev;
};

/* One connection and its poller thread. */
struct rconn {
	struct remote *r;
	int idx;
	struct nbd_handle *h;      /* NULL while reconnecting; replaced by the poller only */
	pthread_mutex_t lock;      /* h, pending, broken; held while submitting to h */
	struct rreq *pending;      /* waiting for a (re)connection */
	atomic_int broken;         /* gave up reconnecting */
	pthread_mutex_t done_lock; /* leaf lock: taken inside libnbd callbacks */
	struct rreq *inflight;     /* submitted, not completed (doubly linked) */
	struct rreq *done;         /* completed, not yet delivered */
	int wake_fd;
	pthread_t poller;
	int poller_started;
};

struct remote {
	char *uri;
	int nconn;
	int retries;
	int close_timeout_ms;      /* -1 = forever */
	int connect_timeout_ms;    /* -1 = forever */
	uint64_t piece;
	uint64_t size;
	struct rconn *conns;
	atomic_uint rr;
	pthread_mutex_t win_lock;
	pthread_cond_t win_cond;
	int inflight, max_inflight;
	atomic_int stopping;
	atomic_int failed_since_drain;
	pthread_mutex_t err_lock;
	struct err fatal;          /* why a connection was given up */
	atomic_ullong reads, writes, flushes, bytes_read, bytes_written, errors, reconnects, retried, max_seen;
};

static __thread struct rconn *current_poller; /* set on poller threads */

/* Built with libnbd. */
int remote_available(void)
{
	return 1;
}

/* Wake a connection's poller. */
static void wake(struct rconn *c)
{
	uint64_t one = 1;
	if (write(c->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_warn("remote: wake: %s", strerror(errno));
}

static int64_t now_ms(void);

/* Open and connect one libnbd handle: connect and handshake asynchronously,
 * bounded by connect_timeout_ms (a blocking nbd_connect_uri would wait for
 * TCP to give up, minutes, on a link that drops packets). */
static struct nbd_handle *open_handle(struct remote *r, struct err *e)
{
	struct nbd_handle *h = nbd_create();
	if (!h)
		return err_set(e, "remote: %s", nbd_get_error()), NULL;
	nbd_set_uri_allow_local_file(h, true);
	int64_t deadline = r->connect_timeout_ms < 0 ? -1 : now_ms() + r->connect_timeout_ms;
	int rc = nbd_aio_connect_uri(h, r->uri);
	while (rc != -1 && !nbd_aio_is_ready(h)) {
		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h)) {
			rc = -1;
			break;
		}
		int64_t left = deadline < 0 ? 1000 : deadline - now_ms();
		if (left <= 0) {
			err_set(e, "remote: connect %s: no answer within %d ms (connect and handshake)", r->uri,
				r->connect_timeout_ms);
			nbd_close(h);
			return NULL;
		}
		rc = nbd_poll(h, (int)(left < 1000 ? left : 1000));
	}
	if (rc == -1) {
		err_set(e, "remote: connect %s: %s", r->uri, nbd_get_error() ? nbd_get_error() : "connection failed");
		nbd_close(h);
		return NULL;
	}
	int one = 1, fd = nbd_aio_get_fd(h);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* no-op on UNIX sockets */
	return h;
}

/* Unlink q from c's in-flight list (done_lock held). */
static void inflight_remove(struct rconn *c, struct rreq *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		c->inflight = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->next = q->prev = NULL;
}

/* Move every request still in flight on c to its done list with ENOTCONN
 * (done_lock held): libnbd will not call back for them any more. */
static void fail_inflight(struct rconn *c)
{
	while (c->inflight) {
		struct rreq *q = c->inflight;
		inflight_remove(c, q);
		q->error = ENOTCONN;
		q->next = c->done;
		c->done = q;
	}
}

/* libnbd completion callback: runs under libnbd's lock, so only queue. */
static int rreq_complete(void *user_data, int *error)
{
	struct rreq *q = user_data;
	struct rconn *c = q->c;
	q->error = *error;
	pthread_mutex_lock(&c->done_lock);
	inflight_remove(c, q);
	q->next = c->done;
	c->done = q;
	pthread_mutex_unlock(&c->done_lock);
	if (current_poller != c)
		wake(c);
	return 1;
}

/* Deliver a finished request: stats, window, group completion. */
static void rreq_finish(struct rreq *q)
{
	struct remote *r = q->r;
	struct rgroup *g = q->g;
	if (q->error) {
		atomic_fetch_add(&r->errors, 1);
		atomic_store(&r->failed_since_drain, 1);
		int zero = 0;
		atomic_compare_exchange_strong(&g->error, &zero, q->error);
	} else if (q->op == ROP_READ) {
		atomic_fetch_add(&r->reads, 1);
		atomic_fetch_add(&r->bytes_read, q->len);
	} else if (q->op == ROP_WRITE) {
		atomic_fetch_add(&r->writes, 1);
		atomic_fetch_add(&r->bytes_written, q->len);
	} else {
		atomic_fetch_add(&r->flushes, 1);
	}
	free(q);
	/* The user hears about it before drain can see an empty window. */
	if (atomic_fetch_sub(&g->remaining, 1) == 1) {
		g->done(g->arg, atomic_load(&g->error));
		free(g);
	}
	pthread_mutex_lock(&r->win_lock);
	r->inflight--;
	pthread_cond_broadcast(&r->win_cond);
	pthread_mutex_unlock(&r->win_lock);
}

/* Queue q as completed with error on c (delivered by c's poller). */
static void rreq_fail_later(struct rconn *c, struct rreq *q, int error)
{
	q->c = c;
	q->error = error;
	pthread_mutex_lock(&c->done_lock);
	q->next = c->done;
	c->done = q;
	pthread_mutex_unlock(&c->done_lock);
	wake(c);
}

/* Send q on connection c, or park it until c is connected again. */
static void rreq_submit(struct rconn *c, struct rreq *q)
{
	pthread_mutex_lock(&c->lock);
	if (c->broken) {
		pthread_mutex_unlock(&c->lock);
		rreq_fail_later(c, q, ENOTCONN);
		return;
	}
	if (!c->h) {
		q->next = c->pending;
		c->pending = q;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	q->c = c;
	pthread_mutex_lock(&c->done_lock);
	q->prev = NULL;
	q->next = c->inflight;
	if (c->inflight)
		c->inflight->prev = q;
	c->inflight = q;
	pthread_mutex_unlock(&c->done_lock);
	nbd_completion_callback cb = {.callback = rreq_complete, .user_data = q};
	int64_t cookie;
	if (q->op == ROP_READ)
		cookie = nbd_aio_pread(c->h, q->buf, q->len, q->off, cb, 0);
	else if (q->op == ROP_WRITE)
		cookie = nbd_aio_pwrite(c->h, q->buf, q->len, q->off, cb, 0);
	else
		cookie = nbd_aio_flush(c->h, cb, 0);
	int failed = cookie == -1;
	int en = failed ? nbd_get_errno() : 0;
	int dead = failed && (nbd_aio_is_dead(c->h) || nbd_aio_is_closed(c->h));
	if (failed) {
		/* Not issued: libnbd will not call back. */
		pthread_mutex_lock(&c->done_lock);
		inflight_remove(c, q);
		pthread_mutex_unlock(&c->done_lock);
		if (dead) {
			q->next = c->pending;
			c->pending = q;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (failed && !dead)
		rreq_fail_later(c, q, en ? en : EIO);
	else
		wake(c);
}

/* Is this error what a dropped connection looks like? */
static int is_connection_error(int error)
{
	return error == ENOTCONN || error == ECONNRESET || error == EPIPE || error == ESHUTDOWN ||
	       error == ECONNABORTED || error == ETIMEDOUT;
}

/* Deliver completed requests; re-send those lost with the connection. */
static void process_done(struct rconn *c)
{
	struct remote *r = c->r;
	pthread_mutex_lock(&c->done_lock);
	struct rreq *list = c->done;
	c->done = NULL;
	pthread_mutex_unlock(&c->done_lock);
	while (list) {
		struct rreq *q = list;
		list = q->next;
		q->next = NULL;
		if (q->error && is_connection_error(q->error) && q->tries < r->retries && !c->broken) {
			q->tries++;
			q->error = 0;
			atomic_fetch_add(&r->retried, 1);
			rreq_submit(c, q);
			continue;
		}
		rreq_finish(q);
	}
}

/* Sleep ms milliseconds unless the remote is closing. */
static void backoff_sleep(struct remote *r, int ms)
{
	for (int i = 0; i < ms && !atomic_load(&r->stopping); i += 10) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* The connection died: close it, reconnect with backoff, re-send. */
static void reconnect(struct rconn *c)
{
	struct remote *r = c->r;
	pthread_mutex_lock(&c->lock);
	struct nbd_handle *old = c->h;
	c->h = NULL;
	pthread_mutex_unlock(&c->lock);
	if (old) {
		log_info("remote: connection %d to %s lost: %s", c->idx, r->uri,
			 nbd_get_error() ? nbd_get_error() : "closed");
		nbd_close(old); /* aborts what is in flight: callbacks with ENOTCONN */
	}
	/* Anything libnbd did not call back for is lost too. */
	pthread_mutex_lock(&c->done_lock);
	fail_inflight(c);
	pthread_mutex_unlock(&c->done_lock);

	struct nbd_handle *h = NULL;
	struct err e = {0};
	for (int i = 0; i < r->retries && !h && !atomic_load(&r->stopping); i++) {
		int ms = 50 << i;
		backoff_sleep(r, ms > 2000 ? 2000 : ms);
		err_clear(&e);
		h = open_handle(r, &e);
	}
	pthread_mutex_lock(&c->lock);
	struct rreq *pending = c->pending;
	c->pending = NULL;
	c->h = h;
	if (!h)
		c->broken = 1;
	pthread_mutex_unlock(&c->lock);
	if (h) {
		atomic_fetch_add(&r->reconnects, 1);
		log_info("remote: connection %d to %s re-established", c->idx, r->uri);
	} else {
		pthread_mutex_lock(&r->err_lock);
		err_set(&r->fatal, "remote: connection %d to %s lost, reconnecting failed after %d attempts: %s",
			c->idx, r->uri, r->retries, e.set ? e.msg : "closing");
		pthread_mutex_unlock(&r->err_lock);
	}
	while (pending) {
		struct rreq *q = pending;
		pending = q->next;
		q->next = NULL;
		rreq_submit(c, q); /* fails them with ENOTCONN when broken */
	}
}

/* Poller thread: drive libnbd's state machine and deliver completions. */
static void *poller_run(void *arg)
{
	struct rconn *c = arg;
	struct remote *r = c->r;
	current_poller = c;
	while (!atomic_load(&r->stopping)) {
		process_done(c);
		if (c->broken) {
			struct pollfd p = {c->wake_fd, POLLIN, 0};
			uint64_t v;
			if (poll(&p, 1, -1) > 0 && read(c->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
				break;
			continue;
		}
		struct nbd_handle *h = c->h;
		if (!h || nbd_aio_is_dead(h) || nbd_aio_is_closed(h)) {
			reconnect(c);
			continue;
		}
		unsigned dir = nbd_aio_get_direction(h);
		struct pollfd p[2] = {
			{nbd_aio_get_fd(h), (short)((dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
						    (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0)), 0},
			{c->wake_fd, POLLIN, 0},
		};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("remote: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents & POLLIN) {
			uint64_t v;
			if (read(c->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
				log_warn("remote: eventfd: %s", strerror(errno));
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			nbd_aio_notify_read(h);
		else if (p[0].revents & POLLOUT)
			nbd_aio_notify_write(h);
	}
	process_done(c);
	return NULL;
}

/* Take a slot in the in-flight window (never blocks on a poller thread). */
static void window_acquire(struct remote *r)
{
	pthread_mutex_lock(&r->win_lock);
	while (!current_poller && r->inflight >= r->max_inflight)
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
		rreq_submit(c, q);
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
	if (current_poller)
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
	if (current_poller)
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

/* Open every connection and start the pollers. */
struct remote *remote_connect_opts(const struct remote_opts *o, struct err *e)
{
	char built[4096];
	if (!o)
		return err_set(e, "remote: no options"), NULL;
	if (!o->uri && remote_build_uri(o, built, sizeof built, e))
		return NULL;
	struct remote *r = calloc(1, sizeof *r);
	if (!r)
		return err_errno(e, errno, "remote"), NULL;
	r->uri = strdup(o->uri ? o->uri : built);
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
	for (int i = 0; i < r->nconn; i++) {
		struct rconn *c = &r->conns[i];
		c->h = open_handle(r, e);
		if (!c->h)
			goto fail;
		if (i == 0) {
			int64_t size = nbd_get_size(c->h);
			if (size < 0) {
				err_set(e, "remote: size of %s: %s", r->uri, nbd_get_error());
				goto fail;
			}
			r->size = (uint64_t)size;
			int64_t max = nbd_get_block_size(c->h, LIBNBD_SIZE_MAXIMUM);
			if (max > 0 && (uint64_t)max < r->piece)
				r->piece = (uint64_t)max;
			if (r->nconn > 1 && nbd_can_multi_conn(c->h) != 1) {
				log_warn("remote: %s does not allow multi-conn; using one connection", r->uri);
				r->nconn = 1;
			}
		}
	}
	for (int i = 0; i < r->nconn; i++) {
		struct rconn *c = &r->conns[i];
		c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (c->wake_fd < 0) {
			err_errno(e, errno, "remote: eventfd");
			goto fail;
		}
		int rc = pthread_create(&c->poller, NULL, poller_run, c);
		if (rc) {
			err_errno(e, rc, "remote: poller thread");
			goto fail;
		}
		c->poller_started = 1;
	}
	return r;
fail:
	remote_close(r);
	return NULL;
}

/* Monotonic time in ms. */
static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the window to empty, giving up once no request has completed
 * for timeout_ms (-1: never); returns how many are still in flight. */
static int drain_bounded(struct remote *r, int timeout_ms)
{
	pthread_mutex_lock(&r->win_lock);
	int last = r->inflight;
	int64_t deadline = now_ms() + timeout_ms;
	while (r->inflight > 0) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&r->win_cond, &r->win_lock);
			continue;
		}
		if (r->inflight < last) { /* progress: the link is alive */
			last = r->inflight;
			deadline = now_ms() + timeout_ms;
		}
		int64_t left = deadline - now_ms();
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
		int64_t left = deadline < 0 ? -1 : deadline - now_ms();
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

/* Complete every request still held by c with ENOTCONN (pollers stopped,
 * handle closed); returns how many there were. */
static int abandon_requests(struct rconn *c)
{
	int n = 0;
	pthread_mutex_lock(&c->done_lock);
	fail_inflight(c);
	struct rreq *list = c->done;
	c->done = NULL;
	pthread_mutex_unlock(&c->done_lock);
	pthread_mutex_lock(&c->lock);
	struct rreq *pending = c->pending;
	c->pending = NULL;
	pthread_mutex_unlock(&c->lock);
	for (struct rreq *q = pending, *next; q; q = next) {
		next = q->next;
		q->error = ENOTCONN;
		q->next = list;
		list = q;
	}
	while (list) {
		struct rreq *q = list;
		list = q->next;
		if (q->error == ENOTCONN)
			n++;
		rreq_finish(q);
	}
	return n;
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
			wake(&r->conns[i]);
	for (int i = 0; r->conns && i < r->nconn; i++)
		if (r->conns[i].poller_started)
			pthread_join(r->conns[i].poller, NULL);
	int64_t deadline = r->close_timeout_ms < 0 ? -1 : now_ms() + (stuck ? 0 : r->close_timeout_ms);
	int abandoned = 0;
	for (int i = 0; r->conns && i < r->nconn; i++) {
		struct rconn *c = &r->conns[i];
		if (c->h) {
			disconnect_bounded(c->h, deadline);
			nbd_close(c->h); /* frees what libnbd holds; no callbacks */
			c->h = NULL;
		}
		abandoned += abandon_requests(c);
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

#else /* !MEMSYNC_HAVE_LIBNBD */

struct remote {
	int unused;
};

/* Built without libnbd. */
int remote_available(void)
{
	return 0;
}

/* Unsupported. */
struct remote *remote_connect(const char *uri, int nconn, struct err *e)
{
	(void)uri, (void)nconn;
	return err_set(e, "unsupported: libnbd not found"), NULL;
}

/* Unsupported. */
struct remote *remote_connect_opts(const struct remote_opts *o, struct err *e)
{
	(void)o;
	return err_set(e, "unsupported: libnbd not found"), NULL;
}

/* Unreachable without a remote. */
uint64_t remote_size(struct remote *r)
{
	(void)r;
	return 0;
}

/* Unreachable without a remote. */
const char *remote_uri(struct remote *r)
{
	(void)r;
	return "";
}

/* Unsupported. */
int remote_pread(struct remote *r, void *buf, size_t len, uint64_t off, struct err *e)
{
	(void)r, (void)buf, (void)len, (void)off;
	return err_set(e, "unsupported: libnbd not found");
}

/* Unsupported. */
int remote_pwrite(struct remote *r, const void *buf, size_t len, uint64_t off, struct err *e)
{
	(void)r, (void)buf, (void)len, (void)off;
	return err_set(e, "unsupported: libnbd not found");
}

/* Unsupported. */
int remote_aio_pread(struct remote *r, void *buf, size_t len, uint64_t off, remote_done_fn done, void *arg,
		     struct err *e)
{
	(void)r, (void)buf, (void)len, (void)off, (void)done, (void)arg;
	return err_set(e, "unsupported: libnbd not found");
}

/* Unsupported. */
int remote_aio_pwrite(struct remote *r, const void *buf, size_t len, uint64_t off, remote_done_fn done,
		      void *arg, struct err *e)
{
	(void)r, (void)buf, (void)len, (void)off, (void)done, (void)arg;
	return err_set(e, "unsupported: libnbd not found");
}

/* Unsupported. */
int remote_drain(struct remote *r, struct err *e)
{
	(void)r;
	return err_set(e, "unsupported: libnbd not found");
}

/* Unsupported. */
int remote_flush(struct remote *r, struct err *e)
{
	(void)r;
	return err_set(e, "unsupported: libnbd not found");
}

/* Nothing to count. */
void remote_stats(struct remote *r, struct remote_stats *s)
{
	(void)r;
	memset(s, 0, sizeof *s);
}

/* Nothing to close. */
void remote_close(struct remote *r)
{
	(void)r;
}

/* Nothing to close. */
int remote_close_err(struct remote *r, struct err *e)
{
	(void)r, (void)e;
	return 0;
}
#endif

/* ---- a backend on top of a remote (for proxies and direct mounts) ---- */

struct remote_backend {
	struct backend b;
	struct remote *r;
};

/* Read through the remote. */
static int rb_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	return remote_pread(((struct remote_backend *)b)->r, buf, len, off, e);
}

/* Write through the remote. */
static int rb_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	return remote_pwrite(((struct remote_backend *)b)->r, buf, len, off, e);
}

/* Flush the remote. */
static int rb_flush(struct backend *b, struct err *e)
{
	return remote_flush(((struct remote_backend *)b)->r, e);
}

/* Zero by writing zeros in 1 MiB pieces (the client layer has no zero command). */
static int rb_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	static const unsigned char zeros[1 << 20];
	while (len) {
		size_t n = len < sizeof zeros ? len : sizeof zeros;
		if (remote_pwrite(((struct remote_backend *)b)->r, zeros, n, off, e))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

/* Close the remote and free. */
static void rb_close(struct backend *b)
{
	remote_close(((struct remote_backend *)b)->r);
	free(b);
}

static const struct backend_ops remote_backend_ops = {
	.kind = "remote", .read = rb_read, .write = rb_write, .flush = rb_flush,
	.trim = rb_zero, .zero = rb_zero, .close = rb_close,
};

/* Wrap a connected remote as a backend (takes ownership). */
struct backend *backend_remote_new(struct remote *r, struct err *e)
{
	if (!r)
		return err_set(e, "remote backend: no remote"), NULL;
	struct remote_backend *rb = calloc(1, sizeof *rb);
	if (!rb) {
		remote_close(r);
		return err_errno(e, errno, "remote backend"), NULL;
	}
	rb->r = r;
	rb->b.ops = &remote_backend_ops;
	rb->b.size = remote_size(r);
	snprintf(rb->b.spec, sizeof rb->b.spec, "remote:%s", remote_uri(r));
	return &rb->b;
}
