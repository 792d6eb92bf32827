/*
 * remote_int.h - inside the libnbd client (remote.c, remote_conn.c): the
 * request, connection and client structures and what the two files call
 * in each other. Not for users of remote.h.
 *
 * remote.c is the user-facing side: splitting requests, the in-flight
 * window, synchronous calls, connect and close. remote_conn.c is one
 * connection: its libnbd handle, the requests in flight on it, its poller
 * thread and reconnecting.
 */
#ifndef MEMSYNC_REMOTE_INT_H
#define MEMSYNC_REMOTE_INT_H

#include <libnbd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "err.h"
#include "remote.h"

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

/* The client: its connections, the in-flight window, counters. */
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

/* The connection whose poller thread this is; NULL on other threads. */
extern __thread struct rconn *remote_current_poller;

/* Monotonic time in ms. */
int64_t remote_now_ms(void);

/* Open and connect one libnbd handle, bounded by r->connect_timeout_ms. */
struct nbd_handle *rconn_open_handle(struct remote *r, struct err *e);
/* Wake c's poller. */
void rconn_wake(struct rconn *c);
/* Send q on c, or park it until c is connected again (fails it when c is broken). */
void rconn_submit(struct rconn *c, struct rreq *q);
/* c's poller thread: drive libnbd, deliver completions, reconnect. */
void *rconn_poller_run(void *arg);
/* Complete every request c still holds with ENOTCONN (poller stopped,
 * handle closed); returns how many there were. */
int rconn_abandon(struct rconn *c);
/* Deliver a finished request: counters, window, the user's callback. */
void rreq_finish(struct rreq *q);

#endif
