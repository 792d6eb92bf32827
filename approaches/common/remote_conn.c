/*
 * remote_conn.c - one connection of the libnbd client: its handle, the
 * requests in flight on it, the poller thread that drives libnbd and
 * delivers completions, and reconnecting with backoff (see remote_int.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "remote_int.h"

__thread struct rconn *remote_current_poller; /* set on poller threads */

/* Monotonic time in ms. */
int64_t remote_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wake a connection's poller. */
void rconn_wake(struct rconn *c)
{
	uint64_t one = 1;
	if (write(c->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_warn("remote: wake: %s", strerror(errno));
}

/* Open and connect one libnbd handle: connect and handshake asynchronously,
 * bounded by connect_timeout_ms (a blocking nbd_connect_uri would wait for
 * TCP to give up, minutes, on a link that drops packets). */
struct nbd_handle *rconn_open_handle(struct remote *r, struct err *e)
{
	struct nbd_handle *h = nbd_create();
	if (!h)
		return err_set(e, "remote: %s", nbd_get_error()), NULL;
	nbd_set_uri_allow_local_file(h, true);
	int64_t deadline = r->connect_timeout_ms < 0 ? -1 : remote_now_ms() + r->connect_timeout_ms;
	int rc = nbd_aio_connect_uri(h, r->uri);
	while (rc != -1 && !nbd_aio_is_ready(h)) {
		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h)) {
			rc = -1;
			break;
		}
		int64_t left = deadline < 0 ? 1000 : deadline - remote_now_ms();
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
	if (remote_current_poller != c)
		rconn_wake(c);
	return 1;
}

/* Deliver a finished request: stats, window, group completion. */
void rreq_finish(struct rreq *q)
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
	rconn_wake(c);
}

/* Send q on connection c, or park it until c is connected again. */
void rconn_submit(struct rconn *c, struct rreq *q)
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
		rconn_wake(c);
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
			rconn_submit(c, q);
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
		h = rconn_open_handle(r, &e);
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
		rconn_submit(c, q); /* fails them with ENOTCONN when broken */
	}
}

/* Poller thread: drive libnbd's state machine and deliver completions. */
void *rconn_poller_run(void *arg)
{
	struct rconn *c = arg;
	struct remote *r = c->r;
	remote_current_poller = c;
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

/* Complete every request still held by c with ENOTCONN (pollers stopped,
 * handle closed); returns how many there were. */
int rconn_abandon(struct rconn *c)
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
