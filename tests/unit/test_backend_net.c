/*
 * test_backend_net.c - unit tests of the Redis and HTTP object-store
 * backends (approaches/common/backend_redis.c, backend_http.c).
 *
 * Without a server: spec parsing, a dead server (clear EIO error at open,
 * no hang). With a server, named by the environment (tests/test-backend-
 * stores.sh starts redis-server and nginx and sets them):
 *   MEMSYNC_TEST_REDIS  e.g. redis:127.0.0.1:6379 or redis+unix:/path
 *   MEMSYNC_TEST_HTTP   e.g. http://127.0.0.1:8080/objects
 * round trips over chunk boundaries and partial chunks, a region of many
 * chunks in one call, zero/trim, a short last chunk, never-written chunks
 * reading as zeros, and threads writing interleaved pieces of the same
 * chunks at once, all checked byte for byte.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "check.h"

#define MIB (1024u * 1024u)

/* Fill buf with a pattern derived from off and a seed. */
static void pattern(unsigned char *buf, size_t len, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(((off + i) * 2654435761u + seed * 40503u) >> 13);
}

/* Compare backend content at off with the pattern; reports the first difference. */
static int matches(struct backend *b, uint64_t off, size_t len, unsigned seed, int zeros)
{
	struct err e = {0};
	unsigned char *r = malloc(len), *w = malloc(len);
	int ok = r && w && backend_read(b, r, len, off, &e) == 0;
	if (!ok)
		fprintf(stderr, "read %zu at %llu: %s\n", len, (unsigned long long)off, e.msg);
	if (zeros)
		memset(w, 0, len);
	else
		pattern(w, len, off, seed);
	for (size_t i = 0; ok && i < len; i++)
		if (r[i] != w[i]) {
			fprintf(stderr, "byte %llu: got %d want %d\n", (unsigned long long)(off + i), r[i], w[i]);
			ok = 0;
		}
	free(r);
	free(w);
	return ok;
}

/* Write the pattern at off. */
static int put(struct backend *b, uint64_t off, size_t len, unsigned seed)
{
	struct err e = {0};
	unsigned char *w = malloc(len);
	pattern(w, len, off, seed);
	int rc = backend_write(b, w, len, off, &e);
	if (rc)
		fprintf(stderr, "write %zu at %llu: %s\n", len, (unsigned long long)off, e.msg);
	free(w);
	return rc;
}

/* Round trips, partial chunks, zeroing and bounds on an 8 MiB + 1000 B backend
 * with 64 KiB chunks. */
static void exercise(struct backend *b)
{
	struct err e = {0};
	uint64_t size = backend_size(b);
	CHECK(matches(b, 0, 256 * 1024, 0, 1), "never written reads as zeros");
	CHECK(put(b, 0, (size_t)size, 1) == 0);               /* every chunk in one call */
	CHECK(matches(b, 0, (size_t)size, 1, 0));
	CHECK(put(b, 777, 3 * MIB + 123, 2) == 0);             /* partial first and last chunk */
	CHECK(matches(b, 777, 3 * MIB + 123, 2, 0));
	CHECK(matches(b, 0, 777, 1, 0) && matches(b, 777 + 3 * MIB + 123, 1000, 1, 0), "edges kept");
	CHECK(put(b, 65536 - 50, 100, 3) == 0);                /* straddles a boundary */
	CHECK(matches(b, 65536 - 50, 100, 3, 0) && matches(b, 65536 + 50, 100, 2, 0));
	CHECK(put(b, size - 700, 700, 4) == 0);                /* the short last chunk */
	CHECK(matches(b, size - 1000, 300, 1, 0) && matches(b, size - 700, 700, 4, 0));
	CHECK(backend_zero(b, 2 * MIB, 1000000, &e) == 0, "%s", e.msg); /* whole and partial chunks */
	CHECK(matches(b, 1000000, 2 * MIB, 0, 1) && matches(b, 1000000 - 100, 100, 2, 0) &&
	      matches(b, 1000000 + 2 * MIB, 100, 2, 0));
	CHECK(backend_trim(b, 4096, 0, &e) == 0 && matches(b, 0, 4096, 0, 1) && matches(b, 4096, 100, 2, 0));
	CHECK(backend_flush(b, &e) == 0);
	unsigned char c;
	CHECK(backend_read(b, &c, 2, size - 1, &e) == -1 && e.code == EINVAL);
}

struct writer_arg {
	struct backend *b;
	int idx, nthreads;
};

/* Write interleaved 4 KiB pieces of the first 1 MiB (pieces idx, idx+n, ...)
 * so every chunk gets partial writes from every thread at once. */
static void *writer(void *p)
{
	struct writer_arg *a = p;
	for (int round = 0; round < 3; round++)
		for (uint64_t off = (uint64_t)a->idx * 4096; off < MIB; off += (uint64_t)a->nthreads * 4096)
			if (put(a->b, off, 4096, 10 + (unsigned)round)) {
				CHECK(!"concurrent write failed");
				return NULL;
			}
	return NULL;
}

/* Concurrent partial writes to shared chunks; then all of it must be round 2's. */
static void concurrent(struct backend *b)
{
	pthread_t t[8];
	struct writer_arg a[8];
	for (int i = 0; i < 8; i++) {
		a[i] = (struct writer_arg){b, i, 8};
		pthread_create(&t[i], NULL, writer, &a[i]);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	CHECK(matches(b, 0, MIB, 12, 0), "a concurrent partial write was lost");
}

/* Full test against a live server: base is the spec up to the size. */
static void live(const char *base, const char *sep_opts)
{
	char spec[256];
	struct err e = {0};
	snprintf(spec, sizeof spec, "%s:%u:chunk=64K%s", base, 8 * MIB + 1000, sep_opts);
	struct backend *b = backend_open(spec, &e);
	CHECK(b != NULL, "%s: %s", spec, e.msg);
	if (!b)
		return;
	CHECK(backend_size(b) == 8 * MIB + 1000);
	exercise(b);
	concurrent(b);
	backend_close(b);
	printf("live tests done on %s\n", spec);
}

/* Opening a spec must fail; with want set, the message must contain it. */
static void refuse(const char *spec, const char *want, double max_s)
{
	struct err e = {0};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct backend *b = backend_open(spec, &e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(b == NULL && e.set, "'%s' accepted", spec);
	CHECK(!want || strstr(e.msg, want), "'%s': message '%s' lacks '%s'", spec, e.msg, want);
	CHECK(s < max_s, "'%s' took %.1f s", spec, s);
	backend_close(b);
}

/* Run tests. */
int main(void)
{
	static const char *bad[] = {"redis:", "redis:host", "redis:host:0:1M", "redis:host:6379",
				    "redis:host:6379:0", "redis:host:6379:1M:chunk=0", "redis:host:6379:1M:foo=1",
				    "redis:host:6379:1M:timeout=0", "redis+unix::1M", "http://", "http://h:1/",
				    "http://h:1/p", "http://h:1/p:1M:chunk", "http://h:1:1M", "http:h/p:1M",
				    "http:1M", "https://h/:1M"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refuse(bad[i], "bad backend spec", 1);
	refuse("redis:127.0.0.1:1:1M:timeout=2", "redis 127.0.0.1:1: connect", 5);
	refuse("redis+unix:/nonexistent/redis.sock:1M", "redis /nonexistent/redis.sock: connect", 5);
	refuse("http://127.0.0.1:1/objects:1M:timeout=2", "http GET http://127.0.0.1:1/objects/0000000000000000: ", 5);
	struct err e = {0};
	backend_open("redis:127.0.0.1:1:1M", &e);
	CHECK(e.code == EIO || e.code == ENOTSUP, "code %d", e.code);

	char opts[64];
	const char *redis = getenv("MEMSYNC_TEST_REDIS"), *http = getenv("MEMSYNC_TEST_HTTP");
	if (redis && *redis) {
		snprintf(opts, sizeof opts, ":prefix=t%d-", (int)getpid());
		live(redis, opts);
	}
	if (http && *http) {
		char base[200];
		snprintf(base, sizeof base, "%s/t%d", http, (int)getpid());
		live(base, ":timeout=10");
	}
	if (!(redis && *redis) && !(http && *http))
		printf("no MEMSYNC_TEST_REDIS / MEMSYNC_TEST_HTTP: live tests skipped (tests/test-backend-stores.sh runs them)\n");
	return check_done();
}
