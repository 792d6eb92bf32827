/*
 * nbd_side.h - the remote side of every NBD-based approach (uffd, fuse,
 * nbd): the approach hooks serve(), remote_read() and serve_stop() in one
 * place, so each of those approaches serves the same remote copy the same
 * way. Library memsync_nbd_side (harness/CMakeLists.txt); link it and put
 * the three functions in the approach's ops:
 *
 *     .serve = approach_nbd_serve,
 *     .remote_read = approach_nbd_remote_read,
 *     .serve_stop = approach_nbd_serve_stop,
 *
 * What is served: the region's version-0 content (content.h, from the
 * scenario's seed and size) in a memory backend, exported by memsync's NBD
 * server (approaches/common/remote_side.h) on the remote host's address and
 * port (h->addr, h->port; port 0 picks one and stores it in h->port, which
 * the runner hands to the local side as sc->port). The local side connects
 * to nbd://sc->remote_addr:sc->port/ (any export name). The server runs with
 * its defaults: multi-conn, one inline worker per connection (memory
 * backend), whole requests, no TLS.
 *
 * An approach that needs another backend or server options (server-side
 * chunking, workers, TLS) calls approach_nbd_serve_with() from its own
 * serve(); options it reads for that from the scenario should be named
 * server_chunk, server_workers, ... so every approach spells them alike.
 *
 * h->priv holds the remote side (do not use it for other state).
 *
 * Teardown (approach.h's contract): serve_stop() after a failed serve() is
 * fine (serve() left h->priv NULL); serve_stop() twice is fine.
 */
#ifndef MEMSYNC_NBD_SIDE_H
#define MEMSYNC_NBD_SIDE_H

#include <stddef.h>
#include <stdint.h>

#include "approach.h"
#include "nbd_server.h"

/* The remote side's choices beyond the defaults. */
struct nbd_side_opts {
	const char *backend;           /* NULL = memory; "file:PATH" or "dir:PATH[:chunk=SIZE]"
	                                * (remote_side.h), e.g. under sc->workdir */
	struct nbd_server_opts server; /* zero = the server's defaults; a TLS config stays
	                                * the caller's, valid until serve_stop() */
};

/* serve(): fill the remote copy with the version-0 content and serve it. */
int approach_nbd_serve(struct host *h, struct err *e);
/* serve() with another backend or server options (o may be NULL = defaults). */
int approach_nbd_serve_with(struct host *h, const struct nbd_side_opts *o, struct err *e);
/* remote_read(): read the remote copy, for verification. */
int approach_nbd_remote_read(struct host *h, void *buf, size_t len, uint64_t off, struct err *e);
/* serve_stop(): stop serving and free everything. */
void approach_nbd_serve_stop(struct host *h);
/* The backend behind the remote copy (NULL before serve()): write to it to
 * change the remote copy under live clients, as a second writer would. */
struct backend *approach_nbd_backend(struct host *h);

#endif
