/*
 * nbd_server_worker.c - the transmission phase with a pool of workers per
 * connection: each worker takes its turn reading one request (with its
 * payload) under the read lock, executes it against the backend while the
 * others do the same, and sends its reply under the write lock. Many
 * requests in flight, replies out of order, no hand-off queue, no
 * allocation per request (each worker's buffer grows to the largest).
 * Also the execution of one checked request, which inline mode shares.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "log.h"
#include "nbd_server_int.h"

/* Per-worker state: a reusable buffer that grows to the largest request. */
struct worker {
	struct nbd_conn *c;
	unsigned char *buf;
	size_t cap;
};

/* Make sure the worker's buffer holds len bytes (len <= NBD_MAX_REQUEST). */
static int worker_reserve(struct worker *w, size_t len)
{
	return len <= w->cap ? 0 : nbd_buf_resize(&w->buf, &w->cap, len);
}

/* Call one backend operation, split into aligned chunks if configured. */
static int backend_call(struct nbd_server *s, uint16_t type, unsigned char *buf, size_t len, uint64_t off,
			struct err *e)
{
	uint64_t chunk = s->opts.chunk_size;
	while (len) {
		size_t n = len;
		if (chunk && chunk - off % chunk < n)
			n = (size_t)(chunk - off % chunk);
		int rc;
		switch (type) {
		case NBD_CMD_READ: rc = backend_read(s->b, buf, n, off, e); break;
		case NBD_CMD_WRITE: rc = backend_write(s->b, buf, n, off, e); break;
		case NBD_CMD_TRIM: rc = backend_trim(s->b, n, off, e); break;
		default: rc = backend_zero(s->b, n, off, e); break;
		}
		if (rc)
			return -1;
		if (buf)
			buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Execute a checked request; returns the NBD error (0 = success). */
uint32_t nbd_conn_execute(struct nbd_conn *c, const struct nbd_request *r, unsigned char *data, int in_place)
{
	struct nbd_server *s = c->s;
	struct err e = {0};
	int rc = 0;
	switch (r->type) {
	case NBD_CMD_READ:
	case NBD_CMD_WRITE: {
		int rd = r->type == NBD_CMD_READ;
		atomic_fetch_add(rd ? &s->reads : &s->writes, 1);
		if (!in_place)
			rc = backend_call(s, r->type, data, r->length, r->offset, &e);
		if (!rc)
			atomic_fetch_add(rd ? &s->bytes_read : &s->bytes_written, r->length);
		break;
	}
	case NBD_CMD_FLUSH:
		atomic_fetch_add(&s->flushes, 1);
		rc = backend_flush(s->b, &e);
		break;
	case NBD_CMD_TRIM:
	case NBD_CMD_WRITE_ZEROES:
		atomic_fetch_add(r->type == NBD_CMD_TRIM ? &s->trims : &s->zeroes, 1);
		rc = backend_call(s, r->type, NULL, r->length, r->offset, &e);
		break;
	}
	if (!rc && (r->flags & NBD_CMD_FLAG_FUA))
		rc = backend_flush(s->b, &e);
	if (rc) {
		char name[16];
		log_info("nbd: %s: %s offset %" PRIu64 " length %u: %s", c->peer,
			 nbd_cmd_name(r->type, name, sizeof name), r->offset, r->length, e.msg);
		return nbd_errno_to_wire(e.code ? e.code : EIO);
	}
	return 0;
}

/* Send the reply for r; data is a successful READ's payload. */
static int send_reply(struct nbd_conn *c, const struct nbd_request *r, uint32_t error, const void *data)
{
	unsigned char hdr[NBD_REPLY_HDR_MAX];
	struct iovec iov[2] = {{hdr, nbd_encode_reply(hdr, c->structured, r, error)}, {(void *)data, r->length}};
	int n = !error && r->type == NBD_CMD_READ ? 2 : 1;
	pthread_mutex_lock(&c->write_lock);
	int rc = nbd_conn_sendv(c, iov, n);
	pthread_mutex_unlock(&c->write_lock);
	if (rc)
		nbd_conn_kill(c);
	return rc;
}

/* Throw away the payload of a write that is refused: 0, or -1 (dropped). */
static int skip_payload(struct nbd_conn *c, const struct nbd_request *r)
{
	if (r->type == NBD_CMD_WRITE && nbd_conn_skip(c, r->length))
		return nbd_conn_drop(c, "client went away in a write payload");
	return 0;
}

/* read_request's work, with the read lock held. */
static int read_request_locked(struct worker *w, struct nbd_request *r, uint32_t *error, unsigned char **data)
{
	struct nbd_conn *c = w->c;
	struct nbd_server *s = c->s;
	unsigned char hdr[NBD_REQUEST_LEN];
	size_t got;
	char name[16];
	if (atomic_load(&c->dead))
		return -1;
	if (nbd_conn_recv(c, hdr, sizeof hdr, &got)) {
		if (got)
			return nbd_conn_drop(c, "client went away after %zu bytes of a request header", got);
		nbd_conn_kill(c);
		return -1;
	}
	if (nbd_parse_request(hdr, r))
		return nbd_conn_drop(c, "bad request magic 0x%08x", nbd_get32(hdr));
	atomic_fetch_add(&s->requests, 1);
	enum nbd_req_verdict v = nbd_check_request(r, s->b->size, s->eflags, c->structured, error);
	if (v == NBD_REQ_CLOSE)
		return nbd_conn_drop(c, "%s of %u bytes is too big to skip", nbd_cmd_name(r->type, name, sizeof name),
				     r->length);
	if (r->type == NBD_CMD_DISC && v == NBD_REQ_OK) {
		nbd_conn_stop_reading(c);
		return -1;
	}
	if (v == NBD_REQ_ERROR) {
		nbd_conn_log_error(c, r, *error);
		return skip_payload(c, r) ? -1 : 0;
	}
	unsigned char *base = backend_base(s->b);
	if (r->type == NBD_CMD_READ && base && !s->opts.chunk_size) {
		*data = base + r->offset; /* memory backend: sent from the region, no copy */
	} else if (r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE) {
		if (worker_reserve(w, r->length)) {
			*error = NBD_ENOMEM;
			return skip_payload(c, r) ? -1 : 0;
		}
		*data = w->buf;
	}
	/* The whole payload arrives before the backend sees any of it: a client
	 * that goes away mid-payload leaves the backend as it was. */
	if (r->type == NBD_CMD_WRITE && nbd_conn_recv(c, *data, r->length, &got))
		return nbd_conn_drop(c, "client went away after %zu of %u bytes of write payload", got, r->length);
	return 1;
}

/*
 * Read one request (with its payload) under the read lock.
 * Returns 1 = execute, 0 = reply *error without executing, -1 = stop.
 * *data points at the payload (worker buffer or, for a READ from the
 * memory backend, the region itself).
 */
static int read_request(struct worker *w, struct nbd_request *r, uint32_t *error, unsigned char **data)
{
	pthread_mutex_lock(&w->c->read_lock);
	int rc = read_request_locked(w, r, error, data);
	pthread_mutex_unlock(&w->c->read_lock);
	return rc;
}

/* One worker: read a request, execute it, reply; until the connection dies. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct nbd_conn *c = w->c;
	for (;;) {
		struct nbd_request r;
		uint32_t error = 0;
		unsigned char *data = NULL;
		int rc = read_request(w, &r, &error, &data);
		if (rc < 0)
			break;
		if (rc == 1)
			error = nbd_conn_execute(c, &r, data, data && data != w->buf);
		if (error)
			atomic_fetch_add(&c->s->errors, 1);
		if (send_reply(c, &r, error, data))
			break;
	}
	return NULL;
}

/* Start n - 1 worker threads, be the n-th, join them. */
void nbd_conn_serve_workers(struct nbd_conn *c, int n)
{
	struct worker *ws = calloc((size_t)n, sizeof *ws);
	pthread_t *ts = calloc((size_t)n, sizeof *ts);
	if (ws && ts) {
		int started = 1;
		for (int i = 0; i < n; i++)
			ws[i].c = c;
		for (; started < n; started++)
			if (pthread_create(&ts[started], NULL, worker_run, &ws[started]))
				break;
		worker_run(&ws[0]);
		for (int i = 1; i < started; i++)
			pthread_join(ts[i], NULL);
		for (int i = 0; i < n; i++)
			free(ws[i].buf);
	} else {
		log_warn("nbd: %s: out of memory for workers", c->peer);
	}
	free(ws);
	free(ts);
}
