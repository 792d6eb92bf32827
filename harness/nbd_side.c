/*
 * nbd_side.c - the remote side of the NBD-based approaches: the shared
 * remote_side (approaches/common) filled with the scenario's version-0
 * content (see nbd_side.h).
 */
#include "nbd_side.h"

#include "content.h"
#include "remote_side.h"

/* remote_side fill callback: the version-0 content of [off, off + len). */
static void fill_version0(void *buf, uint64_t off, size_t len, void *arg)
{
	const struct content_model *m = arg;
	content_fill(m, buf, off, len);
}

/* serve() with another backend or server options (o may be NULL = defaults). */
int approach_nbd_serve_with(struct host *h, const struct nbd_side_opts *o, struct err *e)
{
	const struct scenario *sc = h->sc;
	struct content_model m = {.seed = sc->seed, .size = sc->size, .versions = NULL};
	struct remote_side_opts ro = {
		.backend = o ? o->backend : NULL,
		.size = sc->size,
		.fill = fill_version0,
		.fill_arg = &m,
		.addr = h->addr,
		.port = h->port,
		.server = o ? &o->server : NULL,
	};
	struct remote_side *rs = remote_side_start(&ro, e);
	if (!rs)
		return -1;
	h->port = remote_side_port(rs);
	h->priv = rs;
	return 0;
}

/* serve(): fill the remote copy with the version-0 content and serve it. */
int approach_nbd_serve(struct host *h, struct err *e)
{
	return approach_nbd_serve_with(h, NULL, e);
}

/* remote_read(): read the remote copy, for verification. */
int approach_nbd_remote_read(struct host *h, void *buf, size_t len, uint64_t off, struct err *e)
{
	if (!h->priv)
		return err_set(e, "remote side: not serving");
	return remote_side_read(h->priv, buf, len, off, e);
}

/* serve_stop(): stop serving and free everything. */
void approach_nbd_serve_stop(struct host *h)
{
	remote_side_stop(h->priv);
	h->priv = NULL;
}

/* The backend behind the remote copy (NULL before serve()). */
struct backend *approach_nbd_backend(struct host *h)
{
	return h->priv ? remote_side_backend(h->priv) : NULL;
}
