/*
 * remote_side.c - the remote copy of a region served over NBD: a backend
 * chosen by spec, filled through a callback, served by nbd_server (see
 * remote_side.h).
 */
#include "remote_side.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

#define DIR_CHUNK_DEFAULT (1u << 20) /* dir: backends: one file per 1 MiB unless chunk= says otherwise */

struct remote_side {
	struct backend *b;
	struct nbd_server *srv;
};

/* "dir:PATH[:chunk=SIZE]": one file per chunk under PATH. */
static struct backend *open_dir(const char *rest, uint64_t size, struct err *e)
{
	char path[256];
	uint64_t chunk = DIR_CHUNK_DEFAULT;
	const char *opt = strstr(rest, ":chunk=");
	size_t plen = opt ? (size_t)(opt - rest) : strlen(rest);
	if (!plen || plen >= sizeof path)
		return err_set(e, "remote side: backend dir:%s: the path is empty or too long", rest), NULL;
	memcpy(path, rest, plen);
	path[plen] = '\0';
	struct err sub = {0};
	if (opt && parse_size(opt + 7, &chunk, &sub))
		return err_set(e, "remote side: backend dir:%s: chunk: %s", rest, sub.msg), NULL;
	return backend_dir_new(path, size, chunk, e);
}

/* Another NBD server (nbdkit, qemu-nbd) as the copy: its export must have the region's size. */
static struct backend *open_remote(const char *uri, uint64_t size, struct err *e)
{
	struct backend *b = backend_remote_open(uri, e);
	if (b && backend_size(b) != size) {
		err_set(e, "remote side: %s has %llu bytes, the region %llu", uri, (unsigned long long)backend_size(b),
			(unsigned long long)size);
		backend_close(b);
		return NULL;
	}
	return b;
}

/* The backend a spec names, of the given size. */
static struct backend *open_backend(const char *spec, uint64_t size, struct err *e)
{
	if (!spec || !strcmp(spec, "memory"))
		return backend_memory_new(size, e);
	if (!strncmp(spec, "file:", 5) && spec[5])
		return backend_file_new(spec + 5, size, e);
	if (!strncmp(spec, "dir:", 4))
		return open_dir(spec + 4, size, e);
	if (!strncmp(spec, "remote:", 7) && spec[7])
		return open_remote(spec + 7, size, e);
	return err_set(e, "remote side: unknown backend '%s' (memory, file:PATH, dir:PATH[:chunk=SIZE] or remote:URI)",
		       spec),
	       NULL;
}

/* Fill the whole backend through the callback: in place for memory, else
 * piece by piece through a buffer. */
static int fill_backend(struct backend *b, remote_side_fill_fn fill, void *arg, struct err *e)
{
	unsigned char *base = backend_base(b), *buf = NULL;
	uint64_t size = backend_size(b);
	if (!base && !(buf = malloc(REMOTE_SIDE_FILL_PIECE)))
		return err_errno(e, ENOMEM, "remote side: fill buffer");
	int rc = 0;
	for (uint64_t off = 0; off < size && !rc; off += REMOTE_SIDE_FILL_PIECE) {
		size_t n = size - off < REMOTE_SIDE_FILL_PIECE ? (size_t)(size - off) : REMOTE_SIDE_FILL_PIECE;
		if (base) {
			fill(base + off, off, n, arg);
		} else {
			fill(buf, off, n, arg);
			rc = backend_write(b, buf, n, off, e);
		}
	}
	free(buf);
	return rc;
}

/* Open and fill the backend, start serving; NULL with the error in e. */
struct remote_side *remote_side_start(const struct remote_side_opts *o, struct err *e)
{
	if (!o->size || !o->addr)
		return err_set(e, "remote side: no size or no address to listen on"), NULL;
	struct remote_side *rs = calloc(1, sizeof *rs);
	if (!rs)
		return err_errno(e, ENOMEM, "remote side"), NULL;
	rs->b = open_backend(o->backend, o->size, e);
	if (!rs->b || (o->fill && fill_backend(rs->b, o->fill, o->fill_arg, e)))
		goto fail;
	rs->srv = nbd_server_new(rs->b, o->server, e);
	char port[16];
	snprintf(port, sizeof port, "%d", o->port);
	if (!rs->srv || nbd_server_listen(rs->srv, o->addr, port, e))
		goto fail;
	return rs;
fail:
	remote_side_stop(rs);
	return NULL;
}

/* The TCP port it listens on. */
int remote_side_port(const struct remote_side *rs)
{
	return nbd_server_port(rs->srv);
}

/* Read [off, off + len) of the remote copy. */
int remote_side_read(struct remote_side *rs, void *buf, size_t len, uint64_t off, struct err *e)
{
	return backend_read(rs->b, buf, len, off, e);
}

/* The backend behind the export. */
struct backend *remote_side_backend(struct remote_side *rs)
{
	return rs->b;
}

/* The server, for its counters. */
struct nbd_server *remote_side_server(struct remote_side *rs)
{
	return rs->srv;
}

/* Stop serving, close the backend and free. */
void remote_side_stop(struct remote_side *rs)
{
	if (!rs)
		return;
	if (rs->srv)
		nbd_server_free(rs->srv);
	backend_close(rs->b);
	free(rs);
}
