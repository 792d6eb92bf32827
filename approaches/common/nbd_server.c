/*
 * nbd_server.c - NBD server: handshake, option haggling, transmission with
 * concurrent workers per connection (see nbd_server.h for the design).
 */
#include "nbd_server.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "nbd_proto.h"

#define MAX_OPTIONS 1024            /* options per handshake before we give up */
#define HANDSHAKE_TIMEOUT_S 60      /* a silent client is dropped after this */
#define MAX_SKIP_OPTION (1u << 20)  /* bigger option payloads close the connection */
#define NOTSENT_LOWAT (1024 * 1024) /* default unsent bytes the kernel may hold per connection */

struct nbd_conn {
	struct nbd_server *s;
	int fd;
	struct tls_session *tls;
	pthread_t thread;
	pthread_mutex_t read_lock;   /* one worker reads a request at a time */
	pthread_mutex_t write_lock;  /* one reply on the wire at a time */
	atomic_int dead;             /* stop reading: DISC, error, shutdown */
	int structured;              /* structured replies negotiated */
	int finished;                /* thread done; reap under s->lock */
	char peer[80];
	struct nbd_conn *next;
};

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

/* ---- connection I/O ---- */

/* Receive exactly len bytes. Returns 0, or -1 on EOF/error; *got says how
 * many bytes arrived before that (to tell "mid-request" from a clean end). */
static int conn_recv(struct nbd_conn *c, void *buf, size_t len, size_t *got)
{
	unsigned char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = c->tls ? tls_recv(c->tls, p + done, len - done) : recv(c->fd, p + done, len - done, 0);
		if (n < 0 && !c->tls && errno == EINTR)
			continue;
		if (n <= 0) {
			if (got)
				*got = done;
			return -1;
		}
		done += (size_t)n;
	}
	if (got)
		*got = done;
	return 0;
}

/* Read and throw away len bytes without allocating. */
static int conn_skip(struct nbd_conn *c, uint64_t len)
{
	unsigned char scratch[4096];
	while (len) {
		size_t n = len < sizeof scratch ? (size_t)len : sizeof scratch;
		if (conn_recv(c, scratch, n, NULL))
			return -1;
		len -= n;
	}
	return 0;
}

/* Send an iovec fully (caller holds write_lock after the handshake). */
static int conn_sendv(struct nbd_conn *c, struct iovec *iov, int iovcnt)
{
	while (iovcnt > 0) {
		if (iov->iov_len == 0) {
			iov++, iovcnt--;
			continue;
		}
		ssize_t n;
		if (c->tls) {
			n = tls_send(c->tls, iov->iov_base, iov->iov_len);
		} else {
			struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
			n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n < 0)
			return -1;
		size_t left = (size_t)n;
		while (iovcnt > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++, iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (unsigned char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

/* Send one buffer fully. */
static int conn_send(struct nbd_conn *c, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	return conn_sendv(c, &iov, 1);
}

/* Mark the connection dead and wake whoever is blocked on it. */
static void conn_kill(struct nbd_conn *c)
{
	atomic_store(&c->dead, 1);
	shutdown(c->fd, SHUT_RDWR);
}

/* Log a protocol violation (one line) and close this connection. */
__attribute__((format(printf, 2, 3)))
static int conn_drop(struct nbd_conn *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_info("nbd: %s: %s; closing connection", c->peer, msg);
	atomic_fetch_add(&c->s->protocol_errors, 1);
	conn_kill(c);
	return -1;
}

/* ---- handshake ---- */

/* Send an option reply with optional data. */
static int opt_reply(struct nbd_conn *c, uint32_t option, uint32_t type, const void *data, uint32_t len)
{
	unsigned char hdr[NBD_OPTION_REPLY_LEN];
	nbd_encode_option_reply(hdr, option, type, len);
	struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)data, len}};
	return conn_sendv(c, iov, 2);
}

/* Send an option error reply with a human-readable message. */
static int opt_error(struct nbd_conn *c, uint32_t option, uint32_t type, const char *msg)
{
	return opt_reply(c, option, type, msg, (uint32_t)strlen(msg));
}

/* Is name an export we serve? */
static int export_known(struct nbd_server *s, const char *name)
{
	return !s->export_name || !*name || !strcmp(name, s->export_name);
}

/* Answer NBD_OPT_INFO / NBD_OPT_GO; returns 1 when GO succeeded. */
static int opt_info_go(struct nbd_conn *c, uint32_t option, const unsigned char *data, uint32_t len)
{
	struct nbd_server *s = c->s;
	char name[NBD_MAX_STRING + 1];
	int want_bs;
	if (nbd_parse_info_request(data, len, name, sizeof name, &want_bs))
		return opt_error(c, option, NBD_REP_ERR_INVALID, "malformed INFO/GO request") ? -1 : 0;
	if (!export_known(s, name))
		return opt_error(c, option, NBD_REP_ERR_UNKNOWN, "unknown export name") ? -1 : 0;
	unsigned char info[18];
	nbd_put16(info, NBD_INFO_EXPORT);
	nbd_put64(info + 2, s->b->size);
	nbd_put16(info + 10, s->eflags);
	if (opt_reply(c, option, NBD_REP_INFO, info, 12))
		return -1;
	nbd_put16(info, NBD_INFO_BLOCK_SIZE);
	nbd_put32(info + 2, NBD_MIN_BLOCK);
	nbd_put32(info + 6, NBD_PREF_BLOCK);
	nbd_put32(info + 10, NBD_MAX_REQUEST);
	if (opt_reply(c, option, NBD_REP_INFO, info, 14))
		return -1;
	if (opt_reply(c, option, NBD_REP_ACK, NULL, 0))
		return -1;
	return option == NBD_OPT_GO;
}

/* Run the fixed newstyle handshake; 0 = enter transmission, -1 = close. */
static int conn_handshake(struct nbd_conn *c)
{
	struct nbd_server *s = c->s;
	unsigned char buf[NBD_MAX_OPTION_LEN];
	size_t got;

	nbd_put64(buf, NBD_MAGIC);
	nbd_put64(buf + 8, NBD_OPTS_MAGIC);
	nbd_put16(buf + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	if (conn_send(c, buf, 18))
		return -1;
	if (conn_recv(c, buf, 4, &got))
		return got ? conn_drop(c, "short client flags") : -1;
	uint32_t cflags = nbd_get32(buf);
	if (!(cflags & NBD_FLAG_C_FIXED_NEWSTYLE) || (cflags & ~3u))
		return conn_drop(c, "unsupported client flags 0x%x", cflags);
	int no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;

	for (int n = 0; n < MAX_OPTIONS; n++) {
		struct nbd_option o;
		if (conn_recv(c, buf, NBD_OPTION_HEADER_LEN, &got))
			return got ? conn_drop(c, "client went away in an option header") : -1;
		if (nbd_parse_option(buf, &o))
			return conn_drop(c, "bad option magic");
		if (o.length > sizeof buf) {
			if (o.length > MAX_SKIP_OPTION || o.option == NBD_OPT_EXPORT_NAME || conn_skip(c, o.length))
				return conn_drop(c, "option %u with %u bytes of data", o.option, o.length);
			if (opt_error(c, o.option, NBD_REP_ERR_TOO_BIG, "option too long"))
				return -1;
			continue;
		}
		if (conn_recv(c, buf, o.length, NULL))
			return conn_drop(c, "client went away in option %u data", o.option);
		if (s->opts.tls && !c->tls && o.option != NBD_OPT_STARTTLS && o.option != NBD_OPT_ABORT) {
			if (o.option == NBD_OPT_EXPORT_NAME)
				return conn_drop(c, "NBD_OPT_EXPORT_NAME before STARTTLS");
			if (opt_error(c, o.option, NBD_REP_ERR_TLS_REQD, "TLS is required"))
				return -1;
			continue;
		}
		switch (o.option) {
		case NBD_OPT_EXPORT_NAME: {
			char name[NBD_MAX_STRING + 1];
			if (o.length > NBD_MAX_STRING)
				return conn_drop(c, "export name too long");
			memcpy(name, buf, o.length);
			name[o.length] = '\0';
			if (strlen(name) != o.length || !export_known(s, name))
				return conn_drop(c, "unknown export in NBD_OPT_EXPORT_NAME");
			unsigned char reply[10 + 124] = {0};
			nbd_put64(reply, s->b->size);
			nbd_put16(reply + 8, s->eflags);
			return conn_send(c, reply, no_zeroes ? 10 : sizeof reply);
		}
		case NBD_OPT_ABORT:
			opt_reply(c, o.option, NBD_REP_ACK, NULL, 0);
			return -1;
		case NBD_OPT_LIST: {
			if (o.length) {
				if (opt_error(c, o.option, NBD_REP_ERR_INVALID, "LIST takes no data"))
					return -1;
				break;
			}
			const char *name = s->export_name ? s->export_name : "";
			uint32_t nl = (uint32_t)strlen(name);
			nbd_put32(buf, nl);
			memcpy(buf + 4, name, nl);
			if (opt_reply(c, o.option, NBD_REP_SERVER, buf, 4 + nl) ||
			    opt_reply(c, o.option, NBD_REP_ACK, NULL, 0))
				return -1;
			break;
		}
		case NBD_OPT_STARTTLS: {
			if (o.length || !s->opts.tls || c->tls) {
				uint32_t type = !s->opts.tls ? NBD_REP_ERR_UNSUP : NBD_REP_ERR_INVALID;
				if (opt_error(c, o.option, type, !s->opts.tls ? "TLS not configured" : "bad STARTTLS"))
					return -1;
				break;
			}
			if (opt_reply(c, o.option, NBD_REP_ACK, NULL, 0))
				return -1;
			struct err e = {0};
			c->tls = tls_server_start(s->opts.tls, c->fd, &e);
			if (!c->tls)
				return conn_drop(c, "%s", e.msg);
			break;
		}
		case NBD_OPT_INFO:
		case NBD_OPT_GO: {
			int rc = opt_info_go(c, o.option, buf, o.length);
			if (rc < 0)
				return -1;
			if (rc == 1)
				return 0;
			break;
		}
		case NBD_OPT_STRUCTURED_REPLY:
			if (o.length || c->structured) {
				if (opt_error(c, o.option, NBD_REP_ERR_INVALID, "bad STRUCTURED_REPLY"))
					return -1;
				break;
			}
			c->structured = 1;
			if (opt_reply(c, o.option, NBD_REP_ACK, NULL, 0))
				return -1;
			break;
		default:
			if (opt_error(c, o.option, NBD_REP_ERR_UNSUP, "option not supported"))
				return -1;
			break;
		}
	}
	return conn_drop(c, "more than %d options", MAX_OPTIONS);
}

/* ---- transmission ---- */

/* Per-worker state: a reusable buffer that grows to the largest request. */
struct worker {
	struct nbd_conn *c;
	unsigned char *buf;
	size_t cap;
};

/* Make sure the worker's buffer holds len bytes (len <= NBD_MAX_REQUEST). */
static int worker_reserve(struct worker *w, size_t len)
{
	if (len <= w->cap)
		return 0;
	unsigned char *p = realloc(w->buf, len);
	if (!p)
		return -1;
	w->buf = p;
	w->cap = len;
	return 0;
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

/* Send the reply for r: simple, or structured for READ when negotiated. */
static int send_reply(struct nbd_conn *c, const struct nbd_request *r, uint32_t error, const void *data)
{
	unsigned char hdr[NBD_STRUCTURED_REPLY_LEN + 8];
	struct iovec iov[2];
	int n = 1;
	if (c->structured && r->type == NBD_CMD_READ) {
		if (error) {
			nbd_encode_structured_reply(hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, r->handle, 6);
			nbd_put32(hdr + 20, error);
			nbd_put16(hdr + 24, 0);
			iov[0] = (struct iovec){hdr, 26};
		} else {
			nbd_encode_structured_reply(hdr, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, r->handle,
						    8 + r->length);
			nbd_put64(hdr + 20, r->offset);
			iov[0] = (struct iovec){hdr, 28};
			iov[1] = (struct iovec){(void *)data, r->length};
			n = 2;
		}
	} else {
		nbd_encode_simple_reply(hdr, error, r->handle);
		iov[0] = (struct iovec){hdr, NBD_SIMPLE_REPLY_LEN};
		if (!error && r->type == NBD_CMD_READ) {
			iov[1] = (struct iovec){(void *)data, r->length};
			n = 2;
		}
	}
	pthread_mutex_lock(&c->write_lock);
	int rc = conn_sendv(c, iov, n);
	pthread_mutex_unlock(&c->write_lock);
	if (rc)
		conn_kill(c);
	return rc;
}

/*
 * Read one request (with its payload) under the read lock.
 * Returns 1 = execute, 0 = reply *error without executing, -1 = stop.
 * *data points at the payload (worker buffer or, for the memory
 * backend, the region itself).
 */
static int read_request(struct worker *w, struct nbd_request *r, uint32_t *error, unsigned char **data)
{
	struct nbd_conn *c = w->c;
	struct nbd_server *s = c->s;
	unsigned char hdr[NBD_REQUEST_LEN];
	size_t got;
	int rc = -1;
	char name[16];

	pthread_mutex_lock(&c->read_lock);
	if (atomic_load(&c->dead))
		goto out;
	if (conn_recv(c, hdr, sizeof hdr, &got)) {
		if (got)
			conn_drop(c, "client went away after %zu bytes of a request header", got);
		else
			conn_kill(c);
		goto out;
	}
	if (nbd_parse_request(hdr, r)) {
		conn_drop(c, "bad request magic 0x%08x", nbd_get32(hdr));
		goto out;
	}
	atomic_fetch_add(&s->requests, 1);
	enum nbd_req_verdict v = nbd_check_request(r, s->b->size, s->eflags, c->structured, error);
	if (v == NBD_REQ_CLOSE) {
		conn_drop(c, "%s of %u bytes is too big to skip", nbd_cmd_name(r->type, name, sizeof name), r->length);
		goto out;
	}
	if (r->type == NBD_CMD_DISC && v == NBD_REQ_OK) {
		atomic_store(&c->dead, 1);
		shutdown(c->fd, SHUT_RD);
		goto out;
	}
	if (v == NBD_REQ_ERROR) {
		log_info("nbd: %s: %s offset %" PRIu64 " length %u flags 0x%x: error %u", c->peer,
			 nbd_cmd_name(r->type, name, sizeof name), r->offset, r->length, r->flags, *error);
		if (r->type == NBD_CMD_WRITE && conn_skip(c, r->length)) {
			conn_drop(c, "client went away in a write payload");
			goto out;
		}
		rc = 0;
		goto out;
	}
	unsigned char *base = backend_base(s->b);
	int direct = base && !s->opts.chunk_size;
	if (direct && (r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE)) {
		*data = base + r->offset; /* memory backend: no copy */
	} else if (r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE) {
		if (worker_reserve(w, r->length)) {
			*error = NBD_ENOMEM;
			if (r->type == NBD_CMD_WRITE && conn_skip(c, r->length)) {
				conn_drop(c, "client went away in a write payload");
				goto out;
			}
			rc = 0;
			goto out;
		}
		*data = w->buf;
	}
	if (r->type == NBD_CMD_WRITE && conn_recv(c, *data, r->length, &got)) {
		conn_drop(c, "client went away after %zu of %u bytes of write payload", got, r->length);
		goto out;
	}
	rc = 1;
out:
	pthread_mutex_unlock(&c->read_lock);
	return rc;
}

/* Execute a checked request; returns the NBD error (0 = success). */
static uint32_t execute(struct worker *w, const struct nbd_request *r, unsigned char *data)
{
	struct nbd_server *s = w->c->s;
	struct err e = {0};
	int rc = 0;
	int direct = data && data != w->buf;
	switch (r->type) {
	case NBD_CMD_READ:
		atomic_fetch_add(&s->reads, 1);
		if (!direct)
			rc = backend_call(s, r->type, data, r->length, r->offset, &e);
		if (!rc)
			atomic_fetch_add(&s->bytes_read, r->length);
		break;
	case NBD_CMD_WRITE:
		atomic_fetch_add(&s->writes, 1);
		if (!direct)
			rc = backend_call(s, r->type, data, r->length, r->offset, &e);
		if (!rc)
			atomic_fetch_add(&s->bytes_written, r->length);
		break;
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
		log_info("nbd: %s: %s offset %" PRIu64 " length %u: %s", w->c->peer,
			 nbd_cmd_name(r->type, name, sizeof name), r->offset, r->length, e.msg);
		return nbd_errno_to_wire(e.code ? e.code : EIO);
	}
	return 0;
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
			error = execute(w, &r, data);
		if (error)
			atomic_fetch_add(&c->s->errors, 1);
		if (send_reply(c, &r, error, data))
			break;
	}
	return NULL;
}

/* ---- inline mode: one thread per connection, batched I/O ---- */

#define INBUF_SIZE (256u * 1024)   /* requests read in one recv */
#define BATCH_IOV 128              /* replies sent in one sendmsg */
#define BIG_WRITE (32u * 1024)     /* writes this big skip the input buffer (no extra copy) */
#define BIG_READ (64u * 1024)      /* read replies this big go after the small ones of their batch */
#define BATCH_BYTES (1u << 20)     /* big read payload per sendmsg before the next big read is queued */

/*
 * For the memory backend every command is a memcpy or less, so handing
 * requests between threads costs more than executing them. One thread
 * reads whatever requests have arrived in one recv(), executes them in
 * order (reads are sent straight from the region; small writes are copied
 * from the input buffer, but while big writes arrive it reads headers alone
 * so payloads land directly in the region), and sends all their replies
 * with one sendmsg() before it blocks again. Within one sendmsg the small
 * replies (write and flush acknowledgements, errors, reads below BIG_READ)
 * go first and the big read payloads after them, so a small request is
 * never answered behind megabytes of earlier reads (NBD allows replies in
 * any order; every request of the batch has already been executed).
 * Parallelism comes from multi-conn.
 */
struct batch {
	struct iovec small[BATCH_IOV];    /* small replies, in request order */
	struct iovec big[BATCH_IOV];      /* big read replies (header, payload), in request order */
	struct iovec iov[2 * BATCH_IOV];  /* both, assembled for sendmsg */
	unsigned char hdr[BATCH_IOV][NBD_STRUCTURED_REPLY_LEN + 8]; /* one per reply */
	int nsmall, nbig, nhdr;
	size_t big_bytes;                 /* read payload queued in big[] */
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
	size_t hlen = NBD_SIMPLE_REPLY_LEN;
	int with_data = !error && r->type == NBD_CMD_READ;
	if (c->structured && r->type == NBD_CMD_READ) {
		if (error) {
			nbd_encode_structured_reply(h, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, r->handle, 6);
			nbd_put32(h + 20, error);
			nbd_put16(h + 24, 0);
			hlen = 26;
		} else {
			nbd_encode_structured_reply(h, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, r->handle,
						    8 + r->length);
			nbd_put64(h + 20, r->offset);
			hlen = 28;
		}
	} else {
		nbd_encode_simple_reply(h, error, r->handle);
	}
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
		rc = conn_sendv(c, b->iov, n);
	}
	b->nsmall = b->nbig = b->nhdr = 0;
	b->big_bytes = 0;
	return rc;
}

/* Receive more bytes into the input buffer (compacting it first), at most
 * up to the end of the next header when header_only is set. */
static ssize_t inbuf_fill(struct nbd_conn *c, unsigned char *in, size_t *start, size_t *end, int header_only)
{
	if (*start) {
		memmove(in, in + *start, *end - *start);
		*end -= *start;
		*start = 0;
	}
	size_t room = header_only ? NBD_REQUEST_LEN - *end : INBUF_SIZE - *end;
	ssize_t n;
	do
		n = c->tls ? tls_recv(c->tls, in + *end, room) : recv(c->fd, in + *end, room, 0);
	while (n < 0 && !c->tls && errno == EINTR);
	if (n > 0)
		*end += (size_t)n;
	return n;
}

/* Move len payload bytes to dst (NULL = discard): buffered ones first, then
 * the socket, after sending the queued replies (never block holding them). */
static int take_payload(struct nbd_conn *c, struct batch *b, unsigned char *in, size_t *start, size_t end,
			unsigned char *dst, uint32_t len, size_t *got)
{
	size_t have = end - *start < len ? end - *start : len;
	if (dst)
		memcpy(dst, in + *start, have);
	*start += have;
	*got = have;
	if (have == len)
		return 0;
	if (batch_flush(c, b))
		return -1;
	size_t more = 0;
	int rc = dst ? conn_recv(c, dst + have, len - have, &more) : conn_skip(c, len - have);
	*got += more;
	return rc;
}

/* Serve the transmission phase of c on this thread (memory backend). */
static void conn_serve_inline(struct nbd_conn *c)
{
	struct nbd_server *s = c->s;
	unsigned char *base = backend_base(s->b);
	unsigned char *in = malloc(INBUF_SIZE);
	struct batch *b = calloc(1, sizeof *b);
	size_t start = 0, end = 0, got;
	int big_writes = 0; /* large writes arriving: read headers alone, payloads straight into the region */
	char name[16];
	if (!in || !b) {
		log_warn("nbd: %s: out of memory", c->peer);
		goto out;
	}
	for (;;) {
		if (end - start < NBD_REQUEST_LEN) {
			/* Nothing complete buffered: answer what we have, then wait. */
			if (batch_flush(c, b))
				goto out;
			ssize_t n = inbuf_fill(c, in, &start, &end, big_writes);
			if (n <= 0) {
				if (end > start)
					conn_drop(c, "client went away after %zu bytes of a request header", end - start);
				goto out;
			}
			continue;
		}
		struct nbd_request r;
		uint32_t error = 0;
		if (nbd_parse_request(in + start, &r)) {
			batch_flush(c, b);
			conn_drop(c, "bad request magic 0x%08x", nbd_get32(in + start));
			goto out;
		}
		start += NBD_REQUEST_LEN;
		atomic_fetch_add(&s->requests, 1);
		enum nbd_req_verdict v = nbd_check_request(&r, s->b->size, s->eflags, c->structured, &error);
		if (v == NBD_REQ_CLOSE) {
			batch_flush(c, b);
			conn_drop(c, "%s of %u bytes is too big to skip", nbd_cmd_name(r.type, name, sizeof name), r.length);
			goto out;
		}
		if (r.type == NBD_CMD_DISC && v == NBD_REQ_OK) {
			batch_flush(c, b);
			goto out;
		}
		if (v == NBD_REQ_ERROR) {
			log_info("nbd: %s: %s offset %" PRIu64 " length %u flags 0x%x: error %u", c->peer,
				 nbd_cmd_name(r.type, name, sizeof name), r.offset, r.length, r.flags, error);
			if (r.type == NBD_CMD_WRITE && take_payload(c, b, in, &start, end, NULL, r.length, &got)) {
				batch_flush(c, b);
				conn_drop(c, "client went away in a write payload");
				goto out;
			}
			atomic_fetch_add(&s->errors, 1);
			batch_add(c, b, &r, error, NULL);
		} else if (r.type == NBD_CMD_WRITE) {
			big_writes = r.length >= BIG_WRITE;
			if (take_payload(c, b, in, &start, end, base + r.offset, r.length, &got)) {
				batch_flush(c, b);
				conn_drop(c, "client went away after %zu of %u bytes of write payload", got, r.length);
				goto out;
			}
			atomic_fetch_add(&s->writes, 1);
			atomic_fetch_add(&s->bytes_written, r.length);
			batch_add(c, b, &r, 0, NULL);
		} else if (r.type == NBD_CMD_READ) {
			atomic_fetch_add(&s->reads, 1);
			atomic_fetch_add(&s->bytes_read, r.length);
			/* enough big payload queued: send it before this one (small replies still jump ahead) */
			if (r.length >= BIG_READ && b->big_bytes >= BATCH_BYTES && batch_flush(c, b))
				goto out;
			batch_add(c, b, &r, 0, base + r.offset);
		} else {
			struct worker w = {.c = c};
			error = execute(&w, &r, NULL);
			if (error)
				atomic_fetch_add(&s->errors, 1);
			batch_add(c, b, &r, error, NULL);
		}
		if (batch_full(b)) {
			if (batch_flush(c, b))
				goto out;
		}
	}
out:
	conn_kill(c);
	free(in);
	free(b);
}

/* The connection thread: handshake, then run the workers. */
static void *conn_run(void *arg)
{
	struct nbd_conn *c = arg;
	struct nbd_server *s = c->s;
	struct timeval tv = {.tv_sec = HANDSHAKE_TIMEOUT_S};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int active = conn_handshake(c) == 0;
	if (active) {
		atomic_fetch_add(&s->connections_active, 1);
		tv.tv_sec = 0;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		int n = s->opts.workers;
		if (n == 1 && backend_base(s->b) && !s->opts.chunk_size) {
			conn_serve_inline(c);
			n = 0;
		}
		struct worker *ws = calloc((size_t)n, sizeof *ws);
		pthread_t *ts = calloc((size_t)n, sizeof *ts);
		int started = 1;
		if (n == 0) {
			/* served inline */
		} else if (ws && ts) {
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
	tls_session_free(c->tls);
	c->tls = NULL;
	pthread_mutex_lock(&s->lock);
	close(c->fd);
	c->fd = -1;
	c->finished = 1;
	pthread_mutex_unlock(&s->lock);
	if (active)
		atomic_fetch_sub(&s->connections_active, 1);
	atomic_fetch_sub(&s->open_conns, 1);
	log_debug("nbd: %s: connection closed", c->peer);
	return NULL;
}

/* Join and free connections whose thread has ended (s->lock held). */
static void reap_finished(struct nbd_server *s)
{
	struct nbd_conn **pp = &s->conns;
	while (*pp) {
		struct nbd_conn *c = *pp;
		if (!c->finished) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		pthread_join(c->thread, NULL);
		pthread_mutex_destroy(&c->read_lock);
		pthread_mutex_destroy(&c->write_lock);
		free(c);
	}
}

/* Describe the peer of fd for log lines. */
static void peer_name(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[64];
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		snprintf(out, cap, "%s:%u", inet_ntop(AF_INET, &in->sin_addr, host, sizeof host), ntohs(in->sin_port));
	} else if (len && ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		snprintf(out, cap, "[%s]:%u", inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host),
			 ntohs(in6->sin6_port));
	} else {
		snprintf(out, cap, "fd%d", fd);
	}
}

/* Start a connection thread for fd (ownership passes). */
int nbd_server_serve_fd(struct nbd_server *s, int fd, struct err *e)
{
	pthread_mutex_lock(&s->lock);
	reap_finished(s);
	if (atomic_load(&s->stopping) || atomic_load(&s->open_conns) >= s->opts.max_connections) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return err_set(e, "nbd: too many connections (%d) or stopping", s->opts.max_connections);
	}
	struct nbd_conn *c = calloc(1, sizeof *c);
	if (!c) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return err_errno(e, errno, "nbd: new connection");
	}
	c->s = s;
	c->fd = fd;
	pthread_mutex_init(&c->read_lock, NULL);
	pthread_mutex_init(&c->write_lock, NULL);
	peer_name(fd, c->peer, sizeof c->peer);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on UNIX sockets */
	/*
	 * Let the kernel hold little unsent reply data: beyond the client's
	 * window it is transmitted later by the client's ACK processing, on the
	 * client's CPU (on loopback that work landed on nbdcopy, the bottleneck
	 * of a multi-conn copy: see README); and a small reply queues behind less.
	 */
	if (s->opts.notsent_lowat > 0) {
		int lowat = (int)s->opts.notsent_lowat;
		setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
	}
	atomic_fetch_add(&s->connections, 1);
	atomic_fetch_add(&s->open_conns, 1);
	int rc = pthread_create(&c->thread, NULL, conn_run, c);
	if (rc) {
		atomic_fetch_sub(&s->open_conns, 1);
		pthread_mutex_unlock(&s->lock);
		close(fd);
		free(c);
		return err_errno(e, rc, "nbd: connection thread");
	}
	c->next = s->conns;
	s->conns = c;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Accept connections until the server stops. */
static void *accept_run(void *arg)
{
	struct nbd_server *s = arg;
	while (!atomic_load(&s->stopping)) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (atomic_load(&s->stopping))
				break;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
				log_warn("nbd: accept: %s", strerror(errno));
				usleep(10000);
				continue;
			}
			log_warn("nbd: accept: %s; no longer accepting", strerror(errno));
			break;
		}
		struct err e = {0};
		if (nbd_server_serve_fd(s, fd, &e))
			log_info("%s", e.msg);
	}
	return NULL;
}

/* Create a server. */
struct nbd_server *nbd_server_new(struct backend *b, const struct nbd_server_opts *opts, struct err *e)
{
	struct nbd_server *s = calloc(1, sizeof *s);
	if (!s)
		return err_errno(e, errno, "nbd server"), NULL;
	if (opts)
		s->opts = *opts;
	if (s->opts.workers <= 0) /* auto: inline for memory, a pool where the backend may block */
		s->opts.workers = b->base && !s->opts.chunk_size ? 1 : 8;
	if (s->opts.workers > 256)
		s->opts.workers = 256;
	if (s->opts.max_connections <= 0)
		s->opts.max_connections = 256;
	if (s->opts.notsent_lowat == 0)
		s->opts.notsent_lowat = NOTSENT_LOWAT;
	if (s->opts.notsent_lowat > INT32_MAX) {
		err_set(e, "nbd server: notsent_lowat %" PRId64 " is too big (at most %d)", s->opts.notsent_lowat, INT32_MAX);
		free(s);
		return NULL;
	}
	if (s->opts.export_name) {
		if (strlen(s->opts.export_name) > NBD_MAX_STRING) {
			free(s);
			return err_set(e, "nbd server: export name too long"), NULL;
		}
		s->export_name = strdup(s->opts.export_name);
	}
	s->opts.export_name = NULL;
	s->b = b;
	s->listen_fd = -1;
	s->port = -1;
	/* Every connection shares one backend in one process: coherent, so multi-conn is safe. */
	s->eflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
		    NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_CAN_MULTI_CONN;
	if (s->opts.readonly)
		s->eflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH | NBD_FLAG_CAN_MULTI_CONN;
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

/* Bind a UNIX socket at path. */
static int listen_unix(struct nbd_server *s, const char *path, struct err *e)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sun.sun_path)
		return err_set(e, "nbd: socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, errno, "nbd: socket");
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* a stale socket from an earlier run; never anything else */
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) || listen(fd, 128)) {
		err_errno(e, errno, "nbd: listen on %s", path);
		close(fd);
		return -1;
	}
	strcpy(s->unix_path, path);
	s->listen_fd = fd;
	return 0;
}

/* Bind a TCP socket at host:port. */
static int listen_tcp(struct nbd_server *s, const char *host, const char *port, struct err *e)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res;
	int rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (rc)
		return err_set(e, "nbd: %s:%s: %s", host, port, gai_strerror(rc));
	int fd = -1, saved = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return err_errno(e, saved, "nbd: listen on %s:%s", host, port);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
							: ((struct sockaddr_in6 *)&ss)->sin6_port);
	s->listen_fd = fd;
	return 0;
}

/* Listen on TCP or a UNIX socket and start accepting. */
int nbd_server_listen(struct nbd_server *s, const char *host, const char *port_or_path, struct err *e)
{
	if (s->accepting)
		return err_set(e, "nbd: already listening");
	if (!port_or_path)
		return err_set(e, "nbd: no port or socket path");
	if (host ? listen_tcp(s, host, port_or_path, e) : listen_unix(s, port_or_path, e))
		return -1;
	int rc = pthread_create(&s->accept_thread, NULL, accept_run, s);
	if (rc) {
		close(s->listen_fd);
		s->listen_fd = -1;
		return err_errno(e, rc, "nbd: accept thread");
	}
	s->accepting = 1;
	return 0;
}

/* TCP port, or -1. */
int nbd_server_port(struct nbd_server *s)
{
	return s->port;
}

/* Copy the counters. */
void nbd_server_stats(struct nbd_server *s, struct nbd_server_stats *o)
{
	o->requests = atomic_load(&s->requests);
	o->reads = atomic_load(&s->reads);
	o->writes = atomic_load(&s->writes);
	o->flushes = atomic_load(&s->flushes);
	o->trims = atomic_load(&s->trims);
	o->zeroes = atomic_load(&s->zeroes);
	o->bytes_read = atomic_load(&s->bytes_read);
	o->bytes_written = atomic_load(&s->bytes_written);
	o->errors = atomic_load(&s->errors);
	o->protocol_errors = atomic_load(&s->protocol_errors);
	o->connections = atomic_load(&s->connections);
	o->connections_active = atomic_load(&s->connections_active);
}

/* One JSON object with every counter. */
int nbd_server_stats_json(const struct nbd_server_stats *st, char *buf, size_t cap)
{
	return snprintf(buf, cap,
			"{\"requests\":%" PRIu64 ",\"reads\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"flushes\":%" PRIu64
			",\"trims\":%" PRIu64 ",\"zeroes\":%" PRIu64 ",\"bytes_read\":%" PRIu64
			",\"bytes_written\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"protocol_errors\":%" PRIu64
			",\"connections\":%" PRIu64 ",\"connections_active\":%" PRIu64 "}",
			st->requests, st->reads, st->writes, st->flushes, st->trims, st->zeroes, st->bytes_read,
			st->bytes_written, st->errors, st->protocol_errors, st->connections, st->connections_active);
}

/* Stop everything and free. */
void nbd_server_free(struct nbd_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	if (s->accepting) {
		shutdown(s->listen_fd, SHUT_RDWR);
		pthread_join(s->accept_thread, NULL);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->unix_path[0])
		unlink(s->unix_path);
	pthread_mutex_lock(&s->lock);
	for (struct nbd_conn *c = s->conns; c; c = c->next)
		if (c->fd >= 0) {
			atomic_store(&c->dead, 1);
			shutdown(c->fd, SHUT_RDWR);
		}
	pthread_mutex_unlock(&s->lock);
	for (struct nbd_conn *c = s->conns; c; c = c->next)
		pthread_join(c->thread, NULL);
	for (struct nbd_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		pthread_mutex_destroy(&c->read_lock);
		pthread_mutex_destroy(&c->write_lock);
		free(c);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->export_name);
	free(s);
}
