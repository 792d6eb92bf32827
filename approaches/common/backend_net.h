/*
 * backend_net.h - backends that keep the remote copy in a network store,
 * one key or object per chunk (the stores the thesis measured):
 *
 *   redis:HOST:PORT:SIZE[:OPT...]      Redis over TCP (hiredis)
 *   redis+unix:PATH:SIZE[:OPT...]      Redis over a UNIX socket
 *   http://HOST:PORT/PATH:SIZE[:OPT...] an object store over HTTP (libcurl):
 *                                      GET with Range, PUT, DELETE on
 *                                      PATH/<chunk index>, as with S3
 * OPT: chunk=SIZE (default 1M), timeout=SECONDS (default 30: connect and
 * stall limit), prefix=TEXT (redis key prefix, default "memsync:").
 * A chunk never written reads as zeros. Built without the library, a kind
 * fails to open with "unsupported: built without ...".
 *
 * The rest of this header is shared by backend_redis.c and backend_http.c.
 */
#ifndef MEMSYNC_BACKEND_NET_H
#define MEMSYNC_BACKEND_NET_H

#include <pthread.h>
#include <stdint.h>

#include "backend.h"

/* Open "redis:..." or "redis+unix:..." (spec is the whole spec). */
struct backend *backend_redis_open(const char *spec, struct err *e);
/* Open "http://..." (spec is the whole spec). */
struct backend *backend_http_open(const char *spec, struct err *e);

/* The options after SIZE, parsed. */
struct net_opts {
	uint64_t size;
	uint64_t chunk;
	int timeout_s;
	char prefix[64];
};

/* Parse "SIZE[:chunk=N][:timeout=S][:prefix=P]" into o (defaults filled). */
int net_opts_parse(const char *s, const char *spec, struct net_opts *o, struct err *e);

/* Record an I/O failure: message as err_set, e->code = EIO; returns -1. */
int net_fail(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Idle connections kept for reuse: a thread takes one per call (or makes a
 * new one) and gives it back; at most NET_POOL_MAX stay idle. */
#define NET_POOL_MAX 64
struct net_pool {
	pthread_mutex_t lock;
	void *idle[NET_POOL_MAX];
	int n;
	void (*destroy)(void *conn);
};

/* An empty pool whose connections are freed with destroy. */
void net_pool_init(struct net_pool *p, void (*destroy)(void *conn));
/* Take an idle connection, NULL if none. */
void *net_pool_take(struct net_pool *p);
/* Give a healthy connection back (freed when the pool is full). */
void net_pool_give(struct net_pool *p, void *conn);
/* Free every idle connection. */
void net_pool_drain(struct net_pool *p);

#endif
