/*
 * nbd_server_int.h - inside the NBD server: the server and connection
 * structures and what its files call in each other. Not for users of
 * nbd_server.h (the fuzz target is the one exception: it runs connections
 * over memory with nbd_server_serve_memory).
 *
 *   nbd_server.c            the server object: listen, accept, a thread per
 *                           connection (handshake, then transmission),
 *                           counters, free
 *   nbd_server_handshake.c  the fixed newstyle handshake and options
 *   nbd_server_worker.c     transmission with a pool of workers
 *   nbd_server_inline.c     transmission on one thread, batched (memory)
 *   nbd_server_conn.c       a connection's I/O: its byte stream (socket,
 *                           TLS after STARTTLS, or memory), dropping it
 * Calls go down this list only (inline mode also executes its requests
 * with the worker file's nbd_conn_execute).
 */
#ifndef MEMSYNC_NBD_SERVER_INT_H
#define MEMSYNC_NBD_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "nbd_proto.h"
#include "nbd_server.h"

/* A connection's stream held in memory: what the client sends, then the
 * end of the stream; replies are counted and dropped (the fuzz target). */
struct nbd_membuf {
	const unsigned char *in;
	size_t len, pos;
	uint64_t sent;               /* reply bytes the server wrote */
};

/* One client connection. */
struct nbd_conn {
	struct nbd_server *s;
	int fd;                      /* the socket; -1 over memory */
	struct tls_session *tls;     /* after STARTTLS */
	struct nbd_membuf *mem;      /* the stream is in memory, not a socket */
	pthread_t thread;
	pthread_mutex_t read_lock;   /* one worker reads a request at a time */
	pthread_mutex_t write_lock;  /* one reply on the wire at a time */
	atomic_int dead;             /* stop reading: DISC, error, shutdown */
	int structured;              /* structured replies negotiated */
	int finished;                /* thread done; reap under s->lock */
	char peer[80];
	struct nbd_conn *next;
};

/* The server: one export, its connections, its counters. */
struct nbd_server {
	struct backend *b;
	struct nbd_server_opts opts;
	char *export_name;
	uint16_t eflags;
	int listen_fd;
	int port;
	char unix_path[108];
	pthread_t accept_thread;
	int accepting;
	atomic_int stopping;
	pthread_mutex_t lock;        /* the connection list */
	struct nbd_conn *conns;
	atomic_ullong requests, reads, writes, flushes, trims, zeroes;
	atomic_ullong bytes_read, bytes_written, errors, protocol_errors;
	atomic_ullong connections, connections_active; /* active: past the handshake */
	atomic_int open_conns;       /* connection threads, handshaking or not (max_connections) */
};

/* ---- nbd_server.c ---- */

/*
 * Run one connection over memory on the calling thread: in[len] is all
 * the client sends, then the stream ends. Replies are counted and dropped;
 * returns how many bytes the server sent. No thread is started unless
 * opts.workers > 1 (then the other workers are threads). For the fuzz
 * target: the same state machine as a socket, without a syscall.
 */
uint64_t nbd_server_serve_memory(struct nbd_server *s, const void *in, size_t len);

/* ---- nbd_server_handshake.c ---- */

/* Run the fixed newstyle handshake; 0 = enter transmission, -1 = close. */
int nbd_conn_handshake(struct nbd_conn *c);

/* ---- nbd_server_worker.c, nbd_server_inline.c ---- */

/* Execute a checked request against the backend; returns the NBD error
 * (0 = success). data: a READ's or WRITE's buffer; in_place: it is the
 * memory backend's region itself (a READ then has nothing to copy). */
uint32_t nbd_conn_execute(struct nbd_conn *c, const struct nbd_request *r, unsigned char *data, int in_place);

/* Serve the transmission phase with n workers (this thread is one of them). */
void nbd_conn_serve_workers(struct nbd_conn *c, int n);
/* Serve the transmission phase on this thread, batched (memory backend). */
void nbd_conn_serve_inline(struct nbd_conn *c);

/* ---- nbd_server_conn.c ---- */

/* Receive up to len bytes: > 0 bytes, 0 end of stream, -1 error. */
ssize_t nbd_conn_read_some(struct nbd_conn *c, void *buf, size_t len);
/* Receive exactly len bytes. Returns 0, or -1 on EOF/error; *got (may be
 * NULL) says how many arrived before that ("mid-request" or a clean end). */
int nbd_conn_recv(struct nbd_conn *c, void *buf, size_t len, size_t *got);
/* Read and throw away len bytes without allocating. */
int nbd_conn_skip(struct nbd_conn *c, uint64_t len);
/* Send an iovec fully (iov is consumed; after the handshake hold write_lock). */
int nbd_conn_sendv(struct nbd_conn *c, struct iovec *iov, int iovcnt);
/* Send one buffer fully. */
int nbd_conn_send(struct nbd_conn *c, const void *buf, size_t len);
/* Mark the connection dead and wake whoever is blocked on it. */
void nbd_conn_kill(struct nbd_conn *c);
/* Stop reading after NBD_CMD_DISC (replies still go out). */
void nbd_conn_stop_reading(struct nbd_conn *c);
/* Log a protocol violation (one line), count it and close the connection; returns -1. */
int nbd_conn_drop(struct nbd_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log a request answered with an error (one line). */
void nbd_conn_log_error(struct nbd_conn *c, const struct nbd_request *r, uint32_t error);
/* Resize the buffer *buf (of *cap_now bytes) to cap bytes: 0, or -1 with
 * the buffer as it was. */
int nbd_buf_resize(unsigned char **buf, size_t *cap_now, size_t cap);

#endif
