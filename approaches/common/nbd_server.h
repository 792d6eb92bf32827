/*
 * nbd_server.h - memsync's NBD server (fixed newstyle, optionally TLS).
 *
 * Serves one export backed by a struct backend to any number of
 * connections (multi-conn). With one worker on the memory backend, a
 * connection's thread reads all requests that have arrived with one recv,
 * executes them in place and sends all replies with one sendmsg (inline
 * mode). Otherwise, per connection, `workers` threads take turns
 * reading a request (under a read lock), execute it against the backend
 * concurrently, and send the reply under a write lock: many requests in
 * flight, replies out of order, no hand-off queue and no per-request
 * allocation. Malformed input gets the error the protocol specifies or a
 * closed connection, one log line, and never affects other connections.
 */
#ifndef MEMSYNC_NBD_SERVER_H
#define MEMSYNC_NBD_SERVER_H

#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "tls.h"

struct nbd_server_opts {
	const char *export_name;  /* NULL: accept any name; else this name or "" */
	int workers;              /* threads per connection; 0 = auto: 1 for the memory
	                           * backend (inline mode, batched I/O), else 8 */
	int readonly;
	struct tls_config *tls;   /* NULL = plain; else TLS is required */
	uint64_t chunk_size;      /* 0 = whole requests; else split backend calls into aligned chunks */
	int max_connections;      /* open at once, handshaking or not; 0 = 256 */
	int64_t notsent_lowat;    /* TCP_NOTSENT_LOWAT in bytes: 0 = 1 MiB, -1 = the kernel's (unlimited) */
};

struct nbd_server_stats {
	uint64_t requests;        /* commands received in the transmission phase */
	uint64_t reads, writes, flushes, trims, zeroes;
	uint64_t bytes_read;      /* bytes sent to clients by READ */
	uint64_t bytes_written;   /* bytes received by WRITE */
	uint64_t errors;          /* requests answered with an error */
	uint64_t protocol_errors; /* connections closed for bad input */
	uint64_t connections;     /* accepted in total (handshaking or not) */
	uint64_t connections_active; /* past the handshake and still open */
};

struct nbd_server;

/* Create a server for backend b (not owned). opts may be NULL. */
struct nbd_server *nbd_server_new(struct backend *b, const struct nbd_server_opts *opts, struct err *e);

/*
 * Listen and start an accept thread. host = NULL: port_or_path is a UNIX
 * socket path; otherwise a TCP address ("127.0.0.1", "::", "0.0.0.0") and
 * port ("0" picks a free one, see nbd_server_port()).
 */
int nbd_server_listen(struct nbd_server *s, const char *host, const char *port_or_path, struct err *e);

/* The TCP port listened on, or -1. */
int nbd_server_port(struct nbd_server *s);

/* Serve one already connected socket (ownership passes) in its own thread. */
int nbd_server_serve_fd(struct nbd_server *s, int fd, struct err *e);

/* Snapshot of the counters. */
void nbd_server_stats(struct nbd_server *s, struct nbd_server_stats *out);

/* Format stats as one JSON object (no newline) into buf. */
int nbd_server_stats_json(const struct nbd_server_stats *st, char *buf, size_t cap);

/* Stop accepting, close every connection, join all threads, free. */
void nbd_server_free(struct nbd_server *s);

#endif
