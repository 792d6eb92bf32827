/*
 * backend_http.c - the remote copy in an object store over HTTP, one
 * object per chunk at BASE/<chunk index as 16 hex digits> (see
 * backend_net.h for the spec): the access pattern of S3.
 *
 * Reads GET with a Range header (a 200 with the whole object is accepted
 * too); 404 and 416 read as zeros. A whole-chunk write is one PUT; a
 * partial one reads the object, patches it and PUTs it back under a lock
 * striped by chunk (read-modify-write; two writers to one chunk must not
 * interleave). Zeroing DELETEs whole chunks. Any other status, or a
 * transport error, is EIO with the method, URL and status in the message.
 * Each call takes a curl handle from a pool (connections are kept alive
 * per handle) and walks its chunks one request at a time; concurrency
 * comes from the callers (server workers, pull workers).
 */
#include "backend_net.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MEMSYNC_HAVE_CURL
#include <curl/curl.h>

#define HTTP_STRIPES 64

struct http_backend {
	struct backend b;
	struct net_opts o;
	char base[200];                  /* URL without the trailing chunk name */
	struct curl_slist *headers;      /* "Expect:" (no 100-continue round trip) */
	pthread_mutex_t stripe[HTTP_STRIPES];
	struct net_pool pool;
};

/* One transfer: where a GET body goes, where a PUT body comes from. */
struct http_xfer {
	CURL *h;
	unsigned char *dst;     /* GET: n bytes wanted, starting at 'from' of the object */
	size_t n, got;
	uint64_t from, skip;
	long status;            /* known once the body starts */
	const unsigned char *src; /* PUT */
	size_t src_len, sent;
};

/* GET body sink: keep the wanted bytes of a 200/206 body, drop others. */
static size_t http_sink(char *data, size_t sz, size_t nm, void *arg)
{
	struct http_xfer *x = arg;
	size_t len = sz * nm, at = 0;
	if (!x->status) {
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
		x->skip = x->status == 200 ? x->from : 0; /* Range ignored: whole object */
	}
	if (!x->dst || (x->status != 200 && x->status != 206))
		return len;
	if (x->skip) {
		at = x->skip < len ? (size_t)x->skip : len;
		x->skip -= at;
	}
	size_t k = len - at < x->n - x->got ? len - at : x->n - x->got;
	memcpy(x->dst + x->got, data + at, k);
	x->got += k;
	return len;
}

/* PUT body source. */
static size_t http_source(char *data, size_t sz, size_t nm, void *arg)
{
	struct http_xfer *x = arg;
	size_t k = sz * nm < x->src_len - x->sent ? sz * nm : x->src_len - x->sent;
	memcpy(data, x->src + x->sent, k);
	x->sent += k;
	return k;
}

/* Perform method on chunk idx with x; sets x->status. -1 on transport errors. */
static int http_do(struct http_backend *hb, const char *method, uint64_t idx, struct http_xfer *x, struct err *e)
{
	char url[256], range[64];
	snprintf(url, sizeof url, "%s/%016" PRIx64, hb->base, idx);
	CURL *h = x->h;
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)hb->o.timeout_s);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)hb->o.timeout_s);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hb->headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	if (!strcmp(method, "GET") && x->dst) {
		snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, x->from, x->from + x->n - 1);
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	} else if (!strcmp(method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, http_source);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->src_len);
	} else if (!strcmp(method, "DELETE")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		return net_fail(e, "http %s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
	return 0;
}

/* Fail with the status of an unexpected reply. */
static int http_status_fail(struct http_backend *hb, const char *method, uint64_t idx, long status, struct err *e)
{
	return net_fail(e, "http %s %s/%016" PRIx64 ": status %ld", method, hb->base, idx, status);
}

/* Read n bytes at 'from' of chunk idx into p (zeros where nothing is stored). */
static int http_get(struct http_backend *hb, CURL *h, uint64_t idx, uint64_t from, unsigned char *p, size_t n,
		    struct err *e)
{
	struct http_xfer x = {.h = h, .dst = p, .n = n, .from = from};
	if (http_do(hb, "GET", idx, &x, e))
		return -1;
	if (x.status == 404 || x.status == 416)
		x.got = 0;
	else if (x.status != 200 && x.status != 206)
		return http_status_fail(hb, "GET", idx, x.status, e);
	memset(p + x.got, 0, n - x.got);
	return 0;
}

/* Store a whole chunk. */
static int http_put(struct http_backend *hb, CURL *h, uint64_t idx, const unsigned char *p, size_t n, struct err *e)
{
	struct http_xfer x = {.h = h, .src = p, .src_len = n};
	if (http_do(hb, "PUT", idx, &x, e))
		return -1;
	if (x.status != 200 && x.status != 201 && x.status != 204)
		return http_status_fail(hb, "PUT", idx, x.status, e);
	return 0;
}

/* Remove a chunk (absent is fine). */
static int http_delete(struct http_backend *hb, CURL *h, uint64_t idx, struct err *e)
{
	struct http_xfer x = {.h = h};
	if (http_do(hb, "DELETE", idx, &x, e))
		return -1;
	if (x.status != 200 && x.status != 204 && x.status != 404)
		return http_status_fail(hb, "DELETE", idx, x.status, e);
	return 0;
}

/* Bytes in chunk idx (the last one may be short). */
static size_t http_chunk_len(const struct http_backend *hb, uint64_t idx)
{
	uint64_t start = idx * hb->o.chunk;
	return (size_t)(hb->b.size - start < hb->o.chunk ? hb->b.size - start : hb->o.chunk);
}

/* Write (p) or zero (p NULL) n bytes at 'in' of chunk idx. */
static int http_store(struct http_backend *hb, CURL *h, uint64_t idx, uint64_t in, const unsigned char *p, size_t n,
		      struct err *e)
{
	size_t clen = http_chunk_len(hb, idx);
	pthread_mutex_t *m = &hb->stripe[idx % HTTP_STRIPES];
	pthread_mutex_lock(m);
	int rc;
	if (in == 0 && n == clen) {
		rc = p ? http_put(hb, h, idx, p, n, e) : http_delete(hb, h, idx, e);
	} else {
		unsigned char *obj = malloc(clen);
		rc = obj ? http_get(hb, h, idx, 0, obj, clen, e) : err_errno(e, errno, "http backend");
		if (rc == 0) {
			if (p)
				memcpy(obj + in, p, n);
			else
				memset(obj + in, 0, n);
			rc = http_put(hb, h, idx, obj, clen, e);
		}
		free(obj);
	}
	pthread_mutex_unlock(m);
	return rc;
}

enum http_op { H_READ, H_WRITE, H_ZERO };

/* Apply op chunk by chunk over [off, off+len) with a pooled handle. */
static int http_apply(struct http_backend *hb, enum http_op op, unsigned char *buf, size_t len, uint64_t off,
		      struct err *e)
{
	CURL *h = net_pool_take(&hb->pool);
	if (!h && !(h = curl_easy_init()))
		return net_fail(e, "http %s: curl_easy_init failed", hb->base);
	int rc = 0;
	for (uint64_t at = off; at < off + len && rc == 0;) {
		uint64_t idx = at / hb->o.chunk, in = at % hb->o.chunk;
		size_t n = (size_t)(hb->o.chunk - in < off + len - at ? hb->o.chunk - in : off + len - at);
		unsigned char *p = buf ? buf + (at - off) : NULL;
		if (op == H_READ)
			rc = http_get(hb, h, idx, in, p, n, e);
		else
			rc = http_store(hb, h, idx, in, p, n, e);
		at += n;
	}
	net_pool_give(&hb->pool, h);
	return rc;
}

/* Read a range. */
static int http_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	return http_apply((struct http_backend *)b, H_READ, buf, len, off, e);
}

/* Write a range. */
static int http_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	return http_apply((struct http_backend *)b, H_WRITE, (void *)buf, len, off, e);
}

/* Zero a range. */
static int http_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	return http_apply((struct http_backend *)b, H_ZERO, NULL, len, off, e);
}

/* A PUT is complete when answered: nothing to flush. */
static int http_flush(struct backend *b, struct err *e)
{
	(void)b;
	(void)e;
	return 0;
}

/* Free a pooled handle. */
static void http_handle_free(void *h)
{
	curl_easy_cleanup(h);
}

/* Free the handles and the backend. */
static void http_close(struct backend *b)
{
	struct http_backend *hb = (struct http_backend *)b;
	net_pool_drain(&hb->pool);
	for (int i = 0; i < HTTP_STRIPES; i++)
		pthread_mutex_destroy(&hb->stripe[i]);
	curl_slist_free_all(hb->headers);
	free(hb);
}

static const struct backend_ops http_ops = {
	.kind = "http", .read = http_read, .write = http_write, .flush = http_flush,
	.trim = http_zero, .zero = http_zero, .close = http_close,
};

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_init_rc;

/* curl's global state, once per process. */
static void http_global_init(void)
{
	http_init_rc = curl_global_init(CURL_GLOBAL_ALL);
}

/* Split "http://HOST[:PORT]/PATH:REST" into hb->base; returns REST. */
static const char *http_parse_base(struct http_backend *hb, const char *spec, struct err *e)
{
	const char *host = strstr(spec, "://"), *path = host ? strchr(host + 3, '/') : NULL;
	const char *colon = path ? strchr(path, ':') : NULL;
	if (!path || path == host + 3 || !colon || colon == path + 1)
		return err_set(e, "bad backend spec '%s': expected http://HOST:PORT/PATH:SIZE", spec), NULL;
	size_t bl = (size_t)(colon - spec);
	while (bl > 0 && spec[bl - 1] == '/')
		bl--;
	if (bl >= sizeof hb->base)
		return err_set(e, "bad backend spec '%s': URL too long", spec), NULL;
	memcpy(hb->base, spec, bl);
	return colon + 1;
}

/* Open an HTTP backend and check the server answers. */
struct backend *backend_http_open(const char *spec, struct err *e)
{
	pthread_once(&http_once, http_global_init);
	if (http_init_rc != CURLE_OK)
		return net_fail(e, "http backend: curl_global_init: %s", curl_easy_strerror(http_init_rc)), NULL;
	struct http_backend *hb = calloc(1, sizeof *hb);
	if (!hb)
		return err_errno(e, errno, "http backend"), NULL;
	const char *rest = http_parse_base(hb, spec, e);
	if (!rest || net_opts_parse(rest, spec, &hb->o, e)) {
		free(hb);
		return NULL;
	}
	for (int i = 0; i < HTTP_STRIPES; i++)
		pthread_mutex_init(&hb->stripe[i], NULL);
	net_pool_init(&hb->pool, http_handle_free);
	hb->headers = curl_slist_append(NULL, "Expect:");
	hb->b.ops = &http_ops;
	hb->b.size = hb->o.size;
	snprintf(hb->b.spec, sizeof hb->b.spec, "%s", spec);
	unsigned char probe;
	if (!hb->headers || http_read(&hb->b, &probe, 1, 0, e)) {
		if (!hb->headers)
			err_errno(e, ENOMEM, "http backend");
		http_close(&hb->b);
		return NULL;
	}
	return &hb->b;
}

#else

/* Built without libcurl. */
struct backend *backend_http_open(const char *spec, struct err *e)
{
	return err_errno(e, ENOTSUP, "backend '%s' unsupported: built without libcurl (libcurl4-gnutls-dev)", spec), NULL;
}

#endif
