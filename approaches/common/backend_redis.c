/*
 * backend_redis.c - the remote copy in Redis, one key per chunk
 * (see backend_net.h for the spec).
 *
 * Each call takes a connection from a pool (one per concurrent caller),
 * appends one command per chunk of its range (GETRANGE for reads, SET for
 * whole chunks and SETRANGE for parts, DEL or SETRANGE of zeros for
 * zeroing) and only then reads the replies: a range over many chunks costs
 * one round trip. A missing key reads as zeros (GETRANGE gives ""), and a
 * short value is zero-padded (SETRANGE pads with zeros too). A pooled
 * connection that fails with an I/O error (the server restarted) is
 * replaced and the call retried once; every command here is idempotent.
 */
#include "backend_net.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MEMSYNC_HAVE_HIREDIS
#include <hiredis/hiredis.h>

struct redis_backend {
	struct backend b;
	struct net_opts o;
	char host[128];
	int port;
	char unix_path[108];
	char where[160];          /* host:port or the socket, for messages */
	unsigned char *zeros;     /* one chunk of zeros */
	struct net_pool pool;
};

enum redis_op { R_READ, R_WRITE, R_ZERO };

/* Free a pooled connection. */
static void redis_conn_free(void *c)
{
	redisFree(c);
}

/* Why c failed, in words (a timeout says which limit it hit). */
static const char *redis_why(const struct redis_backend *r, const redisContext *c, char *buf, size_t len)
{
	if (c->err == REDIS_ERR_IO && strstr(c->errstr, "temporarily unavailable"))
		snprintf(buf, len, "no answer within %d s (timeout=)", r->o.timeout_s);
	else
		snprintf(buf, len, "%s", c->errstr[0] ? c->errstr : "connection lost");
	return buf;
}

/* A new connection with the I/O timeout set. */
static redisContext *redis_connect(struct redis_backend *r, struct err *e)
{
	struct timeval tv = {.tv_sec = r->o.timeout_s};
	redisContext *c = r->unix_path[0] ? redisConnectUnixWithTimeout(r->unix_path, tv)
					  : redisConnectWithTimeout(r->host, r->port, tv);
	if (!c)
		return net_fail(e, "redis %s: connect: out of memory", r->where), NULL;
	if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
		net_fail(e, "redis %s: connect: %s", r->where, c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

/* Bytes in chunk idx (the last one may be short). */
static uint64_t redis_chunk_len(const struct redis_backend *r, uint64_t idx)
{
	uint64_t start = idx * r->o.chunk;
	return r->b.size - start < r->o.chunk ? r->b.size - start : r->o.chunk;
}

/* Append the command for one chunk piece: n bytes at in of chunk idx. */
static int redis_append(struct redis_backend *r, redisContext *c, enum redis_op op, uint64_t idx,
			uint64_t in, size_t n, const unsigned char *p)
{
	char key[96], a1[24], a2[24];
	const char *argv[4] = {NULL, key, a1, a2};
	size_t argl[4];
	int argc = 4, whole = in == 0 && n == redis_chunk_len(r, idx);
	snprintf(key, sizeof key, "%s%016" PRIx64, r->o.prefix, idx);
	snprintf(a1, sizeof a1, "%" PRIu64, in);
	snprintf(a2, sizeof a2, "%" PRIu64, in + n - 1);
	if (op == R_READ) {
		argv[0] = "GETRANGE";
	} else if (whole && op == R_ZERO) {
		argv[0] = "DEL", argc = 2;
	} else if (whole) {
		argv[0] = "SET", argv[2] = (const char *)p, argc = 3;
	} else {
		argv[0] = "SETRANGE", argv[3] = op == R_ZERO ? (const char *)r->zeros : (const char *)p;
	}
	int data = op == R_READ || argc == 2 ? -1 : argc - 1; /* the binary argument */
	for (int i = 0; i < argc; i++)
		argl[i] = i == data ? n : strlen(argv[i]);
	return redisAppendCommandArgv(c, argc, argv, argl) == REDIS_OK ? 0 : -1;
}

/* Read the reply for one piece; *io is set when the connection broke. */
static int redis_reply(struct redis_backend *r, redisContext *c, enum redis_op op, unsigned char *p,
		       size_t n, uint64_t idx, int *io, struct err *e)
{
	void *v = NULL;
	if (redisGetReply(c, &v) != REDIS_OK) {
		*io = 1;
		char why[128];
		return net_fail(e, "redis %s: %s", r->where, redis_why(r, c, why, sizeof why));
	}
	redisReply *rep = v;
	int rc = 0;
	if (rep->type == REDIS_REPLY_ERROR) {
		rc = net_fail(e, "redis %s: chunk %" PRIu64 ": %s", r->where, idx, rep->str);
	} else if (op == R_READ) {
		if (rep->type != REDIS_REPLY_STRING) {
			rc = net_fail(e, "redis %s: chunk %" PRIu64 ": reply type %d to GETRANGE", r->where, idx, rep->type);
		} else {
			size_t k = rep->len < n ? rep->len : n;
			memcpy(p, rep->str, k);
			memset(p + k, 0, n - k);
		}
	}
	freeReplyObject(rep);
	return rc;
}

/* One pipelined pass over [off, off+len) on connection c. */
static int redis_pass(struct redis_backend *r, redisContext *c, enum redis_op op, unsigned char *buf,
		      size_t len, uint64_t off, int *io, struct err *e)
{
	uint64_t first = off / r->o.chunk, last = (off + len - 1) / r->o.chunk;
	for (uint64_t idx = first, at = off; idx <= last; idx++) {
		uint64_t in = at - idx * r->o.chunk, n = r->o.chunk - in;
		if (n > off + len - at)
			n = off + len - at;
		if (redis_append(r, c, op, idx, in, (size_t)n, buf ? buf + (at - off) : NULL)) {
			*io = 1;
			return net_fail(e, "redis %s: queue command: %s", r->where, c->errstr);
		}
		at += n;
	}
	int rc = 0;
	for (uint64_t idx = first, at = off; idx <= last && !*io; idx++) {
		uint64_t in = at - idx * r->o.chunk, n = r->o.chunk - in;
		if (n > off + len - at)
			n = off + len - at;
		if (redis_reply(r, c, op, buf ? buf + (at - off) : NULL, (size_t)n, idx, io, e))
			rc = -1; /* keep reading: the connection stays in step */
		at += n;
	}
	return rc;
}

/* Run op on a pooled (or new) connection, retrying once on a stale one. */
static int redis_apply(struct redis_backend *r, enum redis_op op, unsigned char *buf, size_t len,
		       uint64_t off, struct err *e)
{
	if (len == 0)
		return 0;
	for (int attempt = 0;; attempt++) {
		struct err le = {0};
		int io = 0;
		redisContext *c = net_pool_take(&r->pool);
		int pooled = c != NULL;
		if (!c && !(c = redis_connect(r, e)))
			return -1;
		int rc = redis_pass(r, c, op, buf, len, off, &io, &le);
		if (!io) {
			net_pool_give(&r->pool, c);
		} else {
			redisFree(c);
			if (pooled && attempt == 0)
				continue;
		}
		if (rc && !e->set)
			*e = le;
		return rc;
	}
}

/* Read a range: GETRANGE per chunk. */
static int redis_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	return redis_apply((struct redis_backend *)b, R_READ, buf, len, off, e);
}

/* Write a range: SET per whole chunk, SETRANGE per part. */
static int redis_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	return redis_apply((struct redis_backend *)b, R_WRITE, (void *)buf, len, off, e);
}

/* Zero a range: DEL whole chunks, SETRANGE zeros into parts. */
static int redis_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	return redis_apply((struct redis_backend *)b, R_ZERO, NULL, len, off, e);
}

/* Durability is the server's configuration (appendonly/save): nothing to do. */
static int redis_flush(struct backend *b, struct err *e)
{
	(void)b;
	(void)e;
	return 0;
}

/* Close every pooled connection. */
static void redis_close(struct backend *b)
{
	struct redis_backend *r = (struct redis_backend *)b;
	net_pool_drain(&r->pool);
	free(r->zeros);
	free(r);
}

static const struct backend_ops redis_ops = {
	.kind = "redis", .read = redis_read, .write = redis_write, .flush = redis_flush,
	.trim = redis_zero, .zero = redis_zero, .close = redis_close,
};

/* Split "HOST:PORT:REST" or "PATH:REST" (unix) into r; returns REST. */
static const char *redis_parse_where(struct redis_backend *r, const char *spec, int is_unix, struct err *e)
{
	const char *s = strchr(spec, ':') + 1, *c1 = strchr(s, ':');
	if (!c1 || c1 == s)
		return err_set(e, "bad backend spec '%s': expected redis:HOST:PORT:SIZE or redis+unix:PATH:SIZE", spec), NULL;
	size_t hl = (size_t)(c1 - s);
	if (is_unix) {
		if (hl >= sizeof r->unix_path)
			return err_set(e, "bad backend spec '%s': socket path too long", spec), NULL;
		memcpy(r->unix_path, s, hl);
		snprintf(r->where, sizeof r->where, "%s", r->unix_path);
		return c1 + 1;
	}
	if (hl >= sizeof r->host)
		return err_set(e, "bad backend spec '%s': host too long", spec), NULL;
	memcpy(r->host, s, hl);
	char *end;
	long port = strtol(c1 + 1, &end, 10);
	if (end == c1 + 1 || *end != ':' || port < 1 || port > 65535)
		return err_set(e, "bad backend spec '%s': expected redis:HOST:PORT:SIZE", spec), NULL;
	r->port = (int)port;
	snprintf(r->where, sizeof r->where, "%s:%d", r->host, r->port);
	return end + 1;
}

/* Open a Redis backend and check the server answers PING. */
struct backend *backend_redis_open(const char *spec, struct err *e)
{
	struct redis_backend *r = calloc(1, sizeof *r);
	if (!r)
		return err_errno(e, errno, "redis backend"), NULL;
	const char *rest = redis_parse_where(r, spec, !strncmp(spec, "redis+unix:", 11), e);
	if (!rest || net_opts_parse(rest, spec, &r->o, e) || !(r->zeros = calloc(1, r->o.chunk))) {
		if (rest && !e->set)
			err_errno(e, errno, "redis backend");
		free(r);
		return NULL;
	}
	net_pool_init(&r->pool, redis_conn_free);
	r->b.ops = &redis_ops;
	r->b.size = r->o.size;
	snprintf(r->b.spec, sizeof r->b.spec, "%s", spec);
	redisContext *c = redis_connect(r, e);
	redisReply *rep = c ? redisCommand(c, "PING") : NULL;
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		char why[128];
		if (c)
			net_fail(e, "redis %s: PING: %s", r->where, rep ? rep->str : redis_why(r, c, why, sizeof why));
		freeReplyObject(rep);
		redisFree(c);
		redis_close(&r->b);
		return NULL;
	}
	freeReplyObject(rep);
	net_pool_give(&r->pool, c);
	return &r->b;
}

#else

/* Built without hiredis. */
struct backend *backend_redis_open(const char *spec, struct err *e)
{
	return err_errno(e, ENOTSUP, "backend '%s' unsupported: built without hiredis (libhiredis-dev)", spec), NULL;
}

#endif
