/*
 * remote.h - the client side of the remote region, on libnbd.
 *
 * Opens N connections to one NBD export (multi-conn when the server allows
 * it), spreads requests over them round-robin and keeps up to
 * max_inflight requests in flight. Each connection has one poller thread
 * driving libnbd's state machine (nbd_aio_notify_read/write); completion
 * callbacks run on that thread, outside libnbd's lock, so a callback may
 * submit new requests (but must not call the synchronous functions).
 * A dropped connection is re-established with bounded exponential backoff
 * and its unfinished requests are re-sent; when that fails, requests
 * complete with ENOTCONN and the next call returns a clear error.
 *
 * URIs are libnbd's: nbd://HOST:PORT/EXPORT, nbd+unix:///EXPORT?socket=PATH,
 * nbds://HOST:PORT/?tls-psk-file=FILE&tls-username=USER,
 * nbds://HOST:PORT/?tls-certificates=DIR.
 *
 * Without libnbd (MEMSYNC_HAVE_LIBNBD undefined) every function fails with
 * "unsupported: libnbd not found" and remote_available() returns 0.
 */
#ifndef MEMSYNC_REMOTE_H
#define MEMSYNC_REMOTE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct remote;

struct remote_opts {
	const char *uri;      /* a libnbd URI; or NULL and the fields below */
	const char *host, *port;          /* TCP (port NULL = 10809) ... */
	const char *unix_path;            /* ... or a UNIX socket */
	const char *export_name;          /* NULL = "" */
	const char *tls_psk_file;         /* TLS with PSK ("user:hexkey" lines) ... */
	const char *tls_username;         /* NULL = the login name */
	const char *tls_certificates;     /* ... or with X.509 (dir with ca-cert.pem) */
	int nconn;            /* connections (0 = 1); reduced to 1 if the server lacks multi-conn */
	int max_inflight;     /* requests in flight over all connections (0 = 64) */
	uint64_t chunk_size;  /* client-side chunking: split requests at multiples of this (0 = 32 MiB pieces) */
	int retries;          /* reconnect attempts after a drop (0 = 5, -1 = none) */
	int close_timeout_ms; /* remote_close gives up on requests when none completed for this
	                       * long, and on the disconnect after it (0 = 10000, -1 = wait forever) */
	int connect_timeout_ms; /* connect + handshake of one connection, also on reconnect
	                         * (0 = 15000, -1 = wait forever): a dead link fails, not hangs */
};

struct remote_stats {
	uint64_t reads, writes, flushes;  /* NBD requests completed */
	uint64_t bytes_read, bytes_written;
	uint64_t errors;                  /* requests completed with an error */
	uint64_t reconnects;              /* successful reconnections */
	uint64_t retried;                 /* requests re-sent after a drop */
	uint64_t max_inflight_seen;
	int nconn;                        /* connections actually open */
};

/* Called once per user request, on a poller thread: error is 0 or an errno. */
typedef void (*remote_done_fn)(void *arg, int error);

/* 1 when built with libnbd. */
int remote_available(void);

/* Connect with defaults for everything but the URI and connection count. */
struct remote *remote_connect(const char *uri, int nconn, struct err *e);
/* Build a libnbd URI from the host/port/unix/TLS fields of o into buf. */
int remote_build_uri(const struct remote_opts *o, char *buf, size_t cap, struct err *e);

/* Connect with all options. */
struct remote *remote_connect_opts(const struct remote_opts *o, struct err *e);

/* Export size in bytes. */
uint64_t remote_size(struct remote *r);
/* The URI connected to. */
const char *remote_uri(struct remote *r);

/* Synchronous read/write (split into pieces, in parallel, waits for all). */
int remote_pread(struct remote *r, void *buf, size_t len, uint64_t off, struct err *e);
int remote_pwrite(struct remote *r, const void *buf, size_t len, uint64_t off, struct err *e);

/*
 * Asynchronous read/write: returns 0 once submitted (blocking while the
 * in-flight window is full, except on a poller thread), then calls
 * done(arg, error) exactly once. buf must stay valid until then.
 * Returns -1 (and never calls done) if the request cannot be submitted
 * (outside the export, or every connection is gone). len 0 calls done at
 * once, on the caller's thread.
 */
int remote_aio_pread(struct remote *r, void *buf, size_t len, uint64_t off, remote_done_fn done, void *arg,
		     struct err *e);
int remote_aio_pwrite(struct remote *r, const void *buf, size_t len, uint64_t off, remote_done_fn done,
		      void *arg, struct err *e);

/* Wait until no request is in flight; returns -1 if any failed since the last drain. */
int remote_drain(struct remote *r, struct err *e);

/* Drain, then NBD_CMD_FLUSH (one flush covers all connections with multi-conn). */
int remote_flush(struct remote *r, struct err *e);

/* Counters. */
void remote_stats(struct remote *r, struct remote_stats *s);

/*
 * Drain, disconnect, join the pollers, free. A dead link cannot hang it:
 * when no request has completed for close_timeout_ms, the rest are
 * abandoned (their done callbacks run with ENOTCONN) and the error is
 * logged; the disconnect waits at most close_timeout_ms as well.
 */
void remote_close(struct remote *r);

/* remote_close() that reports abandoned requests: -1 and a message in e
 * ("... N requests ... got no reply within T ms ..."); r is freed either way. */
int remote_close_err(struct remote *r, struct err *e);

#endif
