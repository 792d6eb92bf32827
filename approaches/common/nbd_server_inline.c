/*
 * nbd_server_inline.c - the transmission phase on one thread, batched,
 * for the memory backend (workers = 1).
 *
 * For the memory backend every command is a memcpy or less, so handing
 * requests between threads costs more than executing them. One thread
 * reads whatever requests have arrived in one recv(), executes them in
 * order and sends all their replies with one sendmsg() before it blocks
 * again. Reads are sent straight from the region. A write is copied into
 * the region only once its whole payload is in the input buffer, so a
 * client that goes away mid-payload leaves the region as it was; while big
 * writes arrive the thread reads each header and each payload alone (the
 * input buffer grows to the largest write), so no payload is moved twice.
 * Within one sendmsg the small replies (write and flush acknowledgements,
 * errors, reads below BIG_READ) go first and the big read payloads after
 * them, so a small request is never answered behind megabytes of earlier
 * reads (NBD allows replies in any order; every request of the batch has
 * already been executed). Parallelism comes from multi-conn.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nbd_server_int.h"

#define INBUF_MIN (16u * 1024)     /* the input buffer starts this small ... */
#define INBUF_SIZE (256u * 1024)   /* ... and grows to this while recvs fill it (requests read in one recv) */
#define BATCH_IOV 128              /* replies sent in one sendmsg */
#define BIG_WRITE (32u * 1024)     /* writes this big: header and payload read alone */
#define BIG_READ (64u * 1024)      /* read replies this big go after the small ones of their batch */
#define BATCH_BYTES (1u << 20)     /* big read payload per sendmsg before the next big read is queued */

/* The replies of one batch, sent with one sendmsg. */
struct batch {
	struct iovec small[BATCH_IOV];    /* small replies, in request order */
	struct iovec big[BATCH_IOV];      /* big read replies (header, payload), in request order */
	struct iovec iov[2 * BATCH_IOV];  /* both, assembled for sendmsg */
	unsigned char hdr[BATCH_IOV][NBD_REPLY_HDR_MAX]; /* one per reply */
	int nsmall, nbig, nhdr;
	size_t big_bytes;                 /* read payload queued in big[] */
};

/* What the client sent and is not handled yet: p[start..end). */
struct inbuf {
	unsigned char *p;
	size_t cap, start, end;
};

/* Is the batch out of room for another reply (up to two iovecs)? */
static int batch_full(const struct batch *b)
{
	return b->nhdr >= BATCH_IOV || b->nsmall > BATCH_IOV - 2 || b->nbig > BATCH_IOV - 2;
}

/* Queue the reply for r; data is the region for a successful READ. */
static void batch_add(struct nbd_conn *c, struct batch *b, const struct nbd_request *r, uint32_t error,
		      const void *data)
{
	unsigned char *h = b->hdr[b->nhdr++];
	size_t hlen = nbd_encode_reply(h, c->structured, r, error);
	int with_data = !error && r->type == NBD_CMD_READ;
	if (with_data && r->length >= BIG_READ) {
		b->big[b->nbig++] = (struct iovec){h, hlen};
		b->big[b->nbig++] = (struct iovec){(void *)data, r->length};
		b->big_bytes += r->length;
		return;
	}
	b->small[b->nsmall++] = (struct iovec){h, hlen};
	if (with_data)
		b->small[b->nsmall++] = (struct iovec){(void *)data, r->length};
}

/* Send every queued reply: the small ones first, then the big reads. */
static int batch_flush(struct nbd_conn *c, struct batch *b)
{
	int rc = 0, n = b->nsmall + b->nbig;
	if (n) {
		memcpy(b->iov, b->small, (size_t)b->nsmall * sizeof *b->iov);
		memcpy(b->iov + b->nsmall, b->big, (size_t)b->nbig * sizeof *b->iov);
		rc = nbd_conn_sendv(c, b->iov, n);
	}
	b->nsmall = b->nbig = b->nhdr = 0;
	b->big_bytes = 0;
	return rc;
}

/* Make room to receive towards need bytes from start: move what is
 * buffered to the front; once that fills the buffer, grow it (up to need,
 * so memory follows the bytes that arrive, not what a header claims). */
static int inbuf_make_room(struct nbd_conn *c, struct inbuf *in, size_t need)
{
	if (in->start) {
		memmove(in->p, in->p + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
	}
	if (in->end < in->cap)
		return 0;
	if (nbd_buf_resize(&in->p, &in->cap, in->cap * 2 < need ? in->cap * 2 : need)) {
		log_warn("nbd: %s: out of memory for a request of %zu bytes", c->peer, need);
		return -1;
	}
	return 0;
}

/* Have need bytes buffered from in->start, receiving more as needed after
 * sending the queued replies (never block holding them). exact: receive no
 * further than that. 0, or -1 at the end of the stream or on an error. */
static int inbuf_need(struct nbd_conn *c, struct batch *b, struct inbuf *in, size_t need, int exact)
{
	if (in->start == in->end)
		in->start = in->end = 0;
	while (in->end - in->start < need) {
		if (in->cap - in->start < need && inbuf_make_room(c, in, need))
			return -1;
		if (batch_flush(c, b))
			return -1;
		size_t room = in->cap - in->end;
		if (exact && room > in->start + need - in->end)
			room = in->start + need - in->end;
		ssize_t n = nbd_conn_read_some(c, in->p + in->end, room);
		if (n <= 0)
			return -1;
		in->end += (size_t)n;
		/* A recv that filled the buffer left more behind: read more at once
		 * next time (kept at the smaller size if memory is short). */
		if ((size_t)n == room && !exact && in->cap < INBUF_SIZE)
			nbd_buf_resize(&in->p, &in->cap, in->cap * 2 < INBUF_SIZE ? in->cap * 2 : INBUF_SIZE);
	}
	return 0;
}

/* Throw away len payload bytes: the buffered ones, then from the stream. */
static int inbuf_skip(struct nbd_conn *c, struct batch *b, struct inbuf *in, uint32_t len)
{
	size_t have = in->end - in->start < len ? in->end - in->start : len;
	in->start += have;
	if (have == len)
		return 0;
	if (batch_flush(c, b))
		return -1;
	return nbd_conn_skip(c, len - have);
}

/* A WRITE: wait for its whole payload, then copy it into the region. */
static int inline_write(struct nbd_conn *c, struct batch *b, struct inbuf *in, const struct nbd_request *r,
			int *big_writes)
{
	struct nbd_server *s = c->s;
	*big_writes = r->length >= BIG_WRITE;
	if (inbuf_need(c, b, in, r->length, *big_writes)) {
		batch_flush(c, b);
		return nbd_conn_drop(c, "client went away after %zu of %u bytes of write payload", in->end - in->start,
				     r->length);
	}
	memcpy((unsigned char *)backend_base(s->b) + r->offset, in->p + in->start, r->length);
	in->start += r->length;
	atomic_fetch_add(&s->writes, 1);
	atomic_fetch_add(&s->bytes_written, r->length);
	batch_add(c, b, r, 0, NULL);
	return 0;
}

/* A request refused with error: skip a write's payload, queue the error. */
static int inline_refuse(struct nbd_conn *c, struct batch *b, struct inbuf *in, const struct nbd_request *r,
			 uint32_t error)
{
	nbd_conn_log_error(c, r, error);
	if (r->type == NBD_CMD_WRITE && inbuf_skip(c, b, in, r->length)) {
		batch_flush(c, b);
		return nbd_conn_drop(c, "client went away in a write payload");
	}
	atomic_fetch_add(&c->s->errors, 1);
	batch_add(c, b, r, error, NULL);
	return 0;
}

/* Handle the request whose header is at in->start: 0 = next, -1 = stop. */
static int inline_request(struct nbd_conn *c, struct batch *b, struct inbuf *in, int *big_writes)
{
	struct nbd_server *s = c->s;
	struct nbd_request r;
	uint32_t error = 0;
	char name[16];
	if (nbd_parse_request(in->p + in->start, &r)) {
		batch_flush(c, b);
		return nbd_conn_drop(c, "bad request magic 0x%08x", nbd_get32(in->p + in->start));
	}
	in->start += NBD_REQUEST_LEN;
	atomic_fetch_add(&s->requests, 1);
	enum nbd_req_verdict v = nbd_check_request(&r, s->b->size, s->eflags, c->structured, &error);
	if (v == NBD_REQ_CLOSE) {
		batch_flush(c, b);
		return nbd_conn_drop(c, "%s of %u bytes is too big to skip", nbd_cmd_name(r.type, name, sizeof name),
				     r.length);
	}
	if (v == NBD_REQ_ERROR)
		return inline_refuse(c, b, in, &r, error);
	switch (r.type) {
	case NBD_CMD_DISC:
		batch_flush(c, b);
		return -1;
	case NBD_CMD_WRITE:
		return inline_write(c, b, in, &r, big_writes);
	case NBD_CMD_READ:
		atomic_fetch_add(&s->reads, 1);
		atomic_fetch_add(&s->bytes_read, r.length);
		/* enough big payload queued: send it before this one (small replies still jump ahead) */
		if (r.length >= BIG_READ && b->big_bytes >= BATCH_BYTES && batch_flush(c, b))
			return -1;
		batch_add(c, b, &r, 0, (unsigned char *)backend_base(s->b) + r.offset);
		return 0;
	default:
		error = nbd_conn_execute(c, &r, NULL, 0);
		if (error)
			atomic_fetch_add(&s->errors, 1);
		batch_add(c, b, &r, error, NULL);
		return 0;
	}
}

/* Serve the transmission phase of c on this thread. */
void nbd_conn_serve_inline(struct nbd_conn *c)
{
	struct inbuf in = {.p = malloc(INBUF_MIN), .cap = INBUF_MIN};
	struct batch batch, *b = &batch; /* about 12 KiB */
	int big_writes = 0; /* large writes arriving: headers and payloads read alone */
	b->nsmall = b->nbig = b->nhdr = 0;
	b->big_bytes = 0;
	if (!in.p) {
		log_warn("nbd: %s: out of memory", c->peer);
		goto out;
	}
	for (;;) {
		if (inbuf_need(c, b, &in, NBD_REQUEST_LEN, big_writes)) {
			if (in.end > in.start)
				nbd_conn_drop(c, "client went away after %zu bytes of a request header", in.end - in.start);
			break;
		}
		if (inline_request(c, b, &in, &big_writes))
			break;
		if (batch_full(b) && batch_flush(c, b))
			break;
	}
out:
	nbd_conn_kill(c);
	free(in.p);
}
