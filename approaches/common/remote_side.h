/*
 * remote_side.h - the remote copy of a region, served over NBD: what an
 * NBD-based approach runs on its remote host.
 *
 * remote_side_start() opens a backend of the given size (memory by default,
 * or a file or a directory, see struct remote_side_opts), fills it once
 * through a callback (e.g. with the region's initial content), and serves it
 * with memsync's NBD server on addr:port, with the server's own options
 * (workers, server-side chunking, TLS, read-only; nbd_server.h). Clients
 * (libnbd through remote.h, nbdinfo, the kernel's nbd-client) then read and
 * write it. remote_side_read() reads the copy back for verification, and
 * remote_side_backend() hands out the backend, so the caller can change the
 * remote copy under live clients (backend_write) as another writer on the
 * remote host would.
 *
 * Knows nothing of the harness: the harness's version-0 fill and the
 * approach hooks around it are in harness/nbd_side.h.
 *
 * Teardown: remote_side_stop() closes every connection, joins the server's
 * threads and closes the backend (a file: or dir: backend's files stay).
 * A killed process leaves nothing behind but those files and the port,
 * which the kernel frees.
 */
#ifndef MEMSYNC_REMOTE_SIDE_H
#define MEMSYNC_REMOTE_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "nbd_server.h"

/* Fill [off, off + len) of the remote copy into buf (called in order, in
 * pieces of at most REMOTE_SIDE_FILL_PIECE bytes). */
typedef void (*remote_side_fill_fn)(void *buf, uint64_t off, size_t len, void *arg);

#define REMOTE_SIDE_FILL_PIECE (4u << 20)

/* What to serve, where and how. */
struct remote_side_opts {
	/* Where the copy lives: NULL or "memory" (anonymous memory, the
	 * default), "file:PATH" (one file, created or grown to size),
	 * "dir:PATH[:chunk=SIZE]" (one file per chunk, default 1m), or
	 * "remote:URI" (another NBD server, e.g. nbdkit, whose export has
	 * exactly size bytes: it is filled and read back over NBD). */
	const char *backend;
	uint64_t size;                /* bytes, > 0 */
	remote_side_fill_fn fill;     /* NULL: leave as the backend starts (zeros for memory) */
	void *fill_arg;
	const char *addr;             /* address to listen on ("127.0.0.1", "198.18.0.2", "::") */
	int port;                     /* TCP port; 0 picks a free one (remote_side_port) */
	/* The NBD server's options, passed through (NULL: its defaults: one
	 * inline worker on memory, else 8; whole requests; no TLS). A TLS
	 * config stays the caller's: free it after remote_side_stop(). */
	const struct nbd_server_opts *server;
};

struct remote_side;

/* Open and fill the backend, start serving; NULL with the error in e. */
struct remote_side *remote_side_start(const struct remote_side_opts *o, struct err *e);
/* The TCP port it listens on. */
int remote_side_port(const struct remote_side *rs);
/* Read [off, off + len) of the remote copy (any thread, clients live or not). */
int remote_side_read(struct remote_side *rs, void *buf, size_t len, uint64_t off, struct err *e);
/* The backend behind the export: write to it to change the remote copy
 * under live clients. Owned by rs. */
struct backend *remote_side_backend(struct remote_side *rs);
/* The server, for its counters (nbd_server_stats). Owned by rs. */
struct nbd_server *remote_side_server(struct remote_side *rs);
/* Stop serving, close the backend and free (NULL is fine). */
void remote_side_stop(struct remote_side *rs);

#endif
