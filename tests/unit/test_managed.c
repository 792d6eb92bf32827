/*
 * test_managed.c - the managed engine (approaches/common/managed*.c),
 * driven directly against memsync's NBD server in this process (UNIX
 * socket) over a memory region with known content, behind a test backend
 * that can delay requests and fail reads or writes on demand (the rig,
 * managed_rig.c):
 *   - every pull order reads back right, in the order it promises;
 *   - threads reading at random race the background pull (few and many
 *     fetches in flight): every byte right, every chunk fetched once;
 *     readers of one chunk in flight join its fetch;
 *   - writers race the background push, then a flush: the server holds
 *     exactly what was written; a chunk written 1000 times is pushed once;
 *     a failed push fails the flush and is sent again later;
 *   - the server dies mid-pull: present chunks still read, absent ones
 *     fail within retry_ms, close does not hang;
 *   - track/take/invalidate round trip; the engine served as a backend;
 *   - chunk sizes 4 KiB and 1 MiB, a cache file, bad options.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "check.h"
#include "clock.h"
#include "log.h"
#include "managed.h"
#include "managed_rig.h"
#include "nbd_server.h"
#include "pattern.h"
#include "remote.h"

/* Not a multiple of 4 KiB nor of 1 MiB: the last chunk is short. */
#define SIZE ((8u << 20) + 12388)

static char dir[] = "/tmp/memsync-managed.XXXXXX";

/* ---- (a) the pull orders ---- */

/* The order in which on_pulled saw chunks (one pull thread: no locking). */
struct seen {
	uint64_t chunk;
	uint64_t *c;
	atomic_size_t n;
	size_t cap;
};

/* on_pulled: record the chunk; check the bytes handed over. */
static void record_pulled(void *arg, uint64_t off, size_t len, const void *data)
{
	struct seen *s = arg;
	size_t i = atomic_load(&s->n);
	if (i < s->cap && off % s->chunk == 0 && matches(data, len, off, 1))
		s->c[i] = off / s->chunk;
	else if (i < s->cap)
		s->c[i] = UINT64_MAX; /* shows as a wrong order below */
	atomic_store(&s->n, i + 1);
}

/* Index of chunk c in the sequence, or -1. */
static long seen_at(const struct seen *s, uint64_t c)
{
	for (size_t i = 0; i < atomic_load(&s->n) && i < s->cap; i++)
		if (s->c[i] == c)
			return (long)i;
	return -1;
}

/* One order with one fetch in flight: the sequence it promises, all bytes right. */
static void test_order(enum managed_order order, uint64_t chunk)
{
	struct rig g;
	struct err e = {0};
	rig_start(&g, dir, SIZE, 1, 0);
	uint64_t n = (SIZE + chunk - 1) / chunk;
	struct seen s = {.chunk = chunk, .cap = n, .c = calloc(n, sizeof(uint64_t))};
	char list[200];
	snprintf(list, sizeof list, "%s/order.list", dir);
	FILE *f = fopen(list, "w");
	fprintf(f, "# hot spots first\n%llu\n\n  %llu   # the header\n%llu\n", (unsigned long long)(n - 3) * chunk,
		(unsigned long long)7 * chunk + 5, (unsigned long long)n / 2 * chunk);
	fclose(f);
	/* FOLLOW: the pull is held back by a slow server until the demand read */
	if (order == MANAGED_ORDER_FOLLOW)
		atomic_store(&g.tb.read_delay_us, 2000);
	struct managed_opts o = {.chunk_size = chunk, .pull_inflight = 1, .order = order, .order_file = list,
				 .on_pulled = record_pulled, .cb_arg = &s};
	struct managed *m = managed_new(g.r, &o, &e);
	CHECK(m != NULL);
	if (!m) {
		fprintf(stderr, "managed_new: %s\n", e.msg);
		rig_stop(&g);
		free(s.c);
		return;
	}
	uint64_t k = n - n / 4;
	if (order == MANAGED_ORDER_FOLLOW) {
		unsigned char b[100];
		CHECK(managed_read(m, b, sizeof b, k * chunk + 10, &e) == 0 && matches(b, sizeof b, k * chunk + 10, 1));
		atomic_store(&g.tb.read_delay_us, 0);
	}
	CHECK(managed_wait_pulled(m, 60000, &e) == 0);
	CHECK(region_matches(m, SIZE, 1));
	struct managed_stats st;
	managed_stats(m, &st);
	CHECK(st.chunks == n && st.chunks_present == n && st.pull_done_ns > 0 && !st.pull_failed);
	CHECK(st.bytes_pulled_demand + st.bytes_pulled_background == SIZE);
	CHECK(rig_bytes_read(&g) == SIZE);
	size_t got = atomic_load(&s.n);
	if (order == MANAGED_ORDER_LINEAR) {
		CHECK(got == n);
		for (uint64_t i = 0; i < n && i < got; i++)
			if (s.c[i] != i) {
				CHECK(!"linear order broken");
				break;
			}
	} else if (order == MANAGED_ORDER_HEADER_FIRST) {
		uint64_t head = (1u << 20) / chunk, tail = n - ((SIZE - (1u << 20)) / chunk);
		CHECK(got == n);
		for (uint64_t i = 0; i < head; i++)
			CHECK(s.c[i] == i);
		for (uint64_t i = 0; i < tail; i++)
			CHECK(s.c[head + i] == n - tail + i);
		CHECK(s.c[head + tail] == head);
	} else if (order == MANAGED_ORDER_LIST) {
		CHECK(got == n && s.c[0] == n - 3 && s.c[1] == 7 && s.c[2] == n / 2);
		CHECK(s.c[3] == 0 && s.c[4] == 1 && seen_at(&s, n - 3) == 0);
	} else {
		/* the demand read fetched k; the pull went on from k+1 */
		long at = seen_at(&s, k + 1);
		CHECK(seen_at(&s, k) == -1 && at >= 0 && at < 8);
		uint64_t want = k + 1; /* then onwards, wrapping, skipping what is present */
		for (long i = 1; at >= 0 && i < 8 && (size_t)(at + i) < got; i++) {
			long before;
			do {
				want = (want + 1) % n;
				before = seen_at(&s, want);
			} while (want == k || (before >= 0 && before < at));
			CHECK(s.c[at + i] == want);
		}
		CHECK(st.demand_fetches == 1 && st.bytes_pulled_demand == chunk);
	}
	managed_close(m);
	rig_stop(&g);
	free(s.c);
}

/* ---- (b) demand reads racing the pull ---- */

struct reader {
	struct managed *m;
	uint64_t seed;
	int reads, bad;
};

/* Random reads of up to 256 KiB, each checked. */
static void *reader_run(void *arg)
{
	struct reader *rd = arg;
	unsigned char *buf = malloc(256 << 10);
	struct err e = {0};
	for (int i = 0; i < rd->reads; i++) {
		size_t len = 1 + rnd(&rd->seed) % (256 << 10);
		uint64_t off = rnd(&rd->seed) % (SIZE - len + 1);
		if (managed_read(rd->m, buf, len, off, &e) || !matches(buf, len, off, 2)) {
			rd->bad++;
			fprintf(stderr, "read %zu at %llu: %s\n", len, (unsigned long long)off, e.msg);
			err_clear(&e);
		}
	}
	free(buf);
	return NULL;
}

/* 8 threads of random reads while the pull runs with inflight in flight
 * (-1: no pull, then every chunk read once more); with many in flight the
 * demand fetches take their own connection. */
static void test_concurrent_reads(int inflight, uint64_t chunk)
{
	struct rig g;
	struct err e = {0};
	rig_start(&g, dir, SIZE, 2, 0);
	struct remote *rd = inflight > 1 ? remote_connect(g.uri, 1, &e) : NULL;
	struct managed_opts o = {.chunk_size = chunk, .pull_inflight = inflight, .demand_remote = rd};
	struct managed *m = managed_new(g.r, &o, &e);
	CHECK(m != NULL && (inflight <= 1 || rd));
	pthread_t t[8];
	struct reader rdr[8];
	for (int i = 0; i < 8; i++) {
		rdr[i] = (struct reader){.m = m, .seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1), .reads = 100};
		pthread_create(&t[i], NULL, reader_run, &rdr[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK(rdr[i].bad == 0);
	}
	if (inflight < 0)
		CHECK(region_matches(m, SIZE, 2));
	CHECK(managed_wait_pulled(m, 60000, &e) == 0);
	CHECK(region_matches(m, SIZE, 2));
	struct managed_stats st;
	managed_stats(m, &st);
	/* every chunk exactly once: by demand or by the pull, never both */
	CHECK(st.bytes_pulled_demand + st.bytes_pulled_background == SIZE);
	CHECK(rig_bytes_read(&g) == SIZE);
	/* With a pull of many in flight and few large chunks, the pull can have
	 * every chunk in flight before a reader asks: then all reads join it. */
	CHECK(st.demand_fetches <= st.chunks);
	CHECK(st.demand_fetches == 0 ? st.bytes_pulled_demand == 0
				     : st.bytes_pulled_demand >= (st.demand_fetches - 1) * chunk &&
					       st.bytes_pulled_demand <= st.demand_fetches * chunk);
	if (inflight < 0)
		CHECK(st.bytes_pulled_background == 0 && st.demand_fetches == st.chunks);
	fprintf(stderr, "reads, pull_inflight %d, chunk %llu: %llu demand fetches, %llu joins, %llu bytes by the pull\n",
		inflight, (unsigned long long)chunk, (unsigned long long)st.demand_fetches,
		(unsigned long long)st.demand_joins, (unsigned long long)st.bytes_pulled_background);
	if (rd) {
		struct remote_stats rs;
		remote_stats(rd, &rs);
		CHECK(rs.bytes_read == st.bytes_pulled_demand);
	}
	managed_close(m);
	remote_close(rd);
	rig_stop(&g);
}

struct joiner {
	struct managed *m;
	pthread_barrier_t *start;
	int ok;
};

/* Read chunk 5 after the barrier. */
static void *joiner_run(void *arg)
{
	struct joiner *j = arg;
	unsigned char buf[512];
	struct err e = {0};
	pthread_barrier_wait(j->start);
	j->ok = managed_read(j->m, buf, sizeof buf, 5 * 4096 + 100, &e) == 0 && matches(buf, sizeof buf, 5 * 4096 + 100, 3);
	return NULL;
}

/* Four readers of one absent chunk on a slow server: one fetch, three joins. */
static void test_joins(void)
{
	struct rig g;
	struct err e = {0};
	rig_start(&g, dir, SIZE, 3, 0);
	atomic_store(&g.tb.read_delay_us, 300000);
	struct managed_opts o = {.chunk_size = 4096, .pull_inflight = -1};
	struct managed *m = managed_new(g.r, &o, &e);
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, 4);
	pthread_t t[4];
	struct joiner j[4];
	for (int i = 0; i < 4; i++) {
		j[i] = (struct joiner){.m = m, .start = &start};
		pthread_create(&t[i], NULL, joiner_run, &j[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(j[i].ok);
	}
	struct managed_stats st;
	managed_stats(m, &st);
	fprintf(stderr, "4 readers of one chunk: %llu fetch(es), %llu join(s)\n", (unsigned long long)st.demand_fetches,
		(unsigned long long)st.demand_joins);
	CHECK(st.demand_fetches == 1 && st.demand_joins == 3 && st.chunks_present == 1);
	CHECK(rig_bytes_read(&g) == 4096);
	pthread_barrier_destroy(&start);
	managed_close(m);
	rig_stop(&g);
}

/* ---- (c) writes racing the push ---- */

struct writer {
	struct managed *m;
	unsigned char *want; /* the expected region (each writer owns a slice) */
	uint64_t from, to, seed;
	int writes, bad;
};

/* Random writes inside [from, to), each read back at once. */
static void *writer_run(void *arg)
{
	struct writer *w = arg;
	unsigned char *buf = malloc(64 << 10), *back = malloc(64 << 10);
	struct err e = {0};
	for (int i = 0; i < w->writes; i++) {
		size_t len = 1 + rnd(&w->seed) % (64 << 10);
		if (len > w->to - w->from)
			len = w->to - w->from;
		uint64_t off = w->from + rnd(&w->seed) % (w->to - w->from - len + 1);
		for (size_t k = 0; k < len; k++)
			buf[k] = (unsigned char)rnd(&w->seed);
		if (managed_write(w->m, buf, len, off, &e) || managed_read(w->m, back, len, off, &e) ||
		    memcmp(buf, back, len)) {
			w->bad++;
			fprintf(stderr, "write %zu at %llu: %s\n", len, (unsigned long long)off, e.msg);
			err_clear(&e);
		}
		memcpy(w->want + off, buf, len);
	}
	free(buf);
	free(back);
	return NULL;
}

/* 4 writers on slices that share chunks at their edges, a push every
 * 1 ms, the pull running: after the flush the server holds exactly what
 * was written. */
static void test_writes_race_push(uint64_t chunk, const char *cache_path)
{
	struct rig g;
	struct err e = {0};
	rig_start(&g, dir, SIZE, 4, 0);
	struct managed_opts o = {.chunk_size = chunk, .pull_inflight = 4, .push_interval_ns = 1000000,
				 .push_inflight = 4, .cache_path = cache_path};
	struct managed *m = managed_new(g.r, &o, &e);
	CHECK(m != NULL);
	if (!m) {
		fprintf(stderr, "managed_new: %s\n", e.msg);
		rig_stop(&g);
		return;
	}
	struct stat sb;
	if (cache_path && stat(cache_path, &sb) == 0)
		CHECK(S_ISDIR(sb.st_mode)); /* a file is unlinked at once */
	unsigned char *want = malloc(SIZE);
	fill(want, SIZE, 0, 4);
	pthread_t t[4];
	struct writer w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct writer){.m = m, .want = want, .from = (uint64_t)SIZE / 4 * (uint64_t)i + 1,
				       .to = (uint64_t)SIZE / 4 * (uint64_t)(i + 1) + 1, .seed = 77 + (uint64_t)i, .writes = 300};
		if (i == 3)
			w[i].to = SIZE;
		pthread_create(&t[i], NULL, writer_run, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(w[i].bad == 0);
	}
	CHECK(managed_flush(m, &e) == 0);
	CHECK(memcmp(g.base, want, SIZE) == 0);
	CHECK(region_is(m, want, SIZE));
	struct managed_stats st;
	managed_stats(m, &st);
	CHECK(st.chunks_dirty == 0 && st.pushes >= 1 && st.bytes_pushed >= st.chunks_pushed * 4096);
	fprintf(stderr, "writes, chunk %llu%s: %llu chunks pushed in %llu rounds, %llu re-sent\n",
		(unsigned long long)chunk, cache_path ? ", cache file" : "", (unsigned long long)st.chunks_pushed,
		(unsigned long long)st.pushes, (unsigned long long)st.chunks_resent);
	CHECK(managed_wait_pulled(m, 60000, &e) == 0);
	CHECK(region_is(m, want, SIZE)); /* the pull did not overwrite a write */
	managed_close(m);
	rig_stop(&g);
	free(want);
}

/* A chunk written 1000 times between two pushes is pushed once; written
 * again it is re-sent; a failed push fails the flush and stays dirty. */
static void test_dedup_and_failed_push(void)
{
	struct rig g;
	struct err e = {0};
	rig_start(&g, dir, SIZE, 5, 0);
	struct managed_opts o = {.chunk_size = 4096, .pull_inflight = -1};
	struct managed *m = managed_new(g.r, &o, &e);
	unsigned char buf[4096], want[4096];
	for (unsigned i = 0; i < 1000; i++) { /* the first covers the chunk, the rest all but its head */
		fill(buf, sizeof buf, 5 * 4096, 100 + i);
		CHECK(managed_write(m, buf + i % 7, sizeof buf - i % 7, 5 * 4096 + i % 7, &e) == 0);
		memcpy(want + i % 7, buf + i % 7, sizeof buf - i % 7);
	}
	struct managed_stats st;
	managed_stats(m, &st);
	CHECK(st.chunks_dirty == 1 && st.chunks_pushed == 0 && st.demand_fetches == 0 && rig_bytes_read(&g) == 0);
	CHECK(matches(g.base + 5 * 4096, 4096, 5 * 4096, 5)); /* nothing pushed before the flush */
	CHECK(managed_flush(m, &e) == 0);
	managed_stats(m, &st);
	CHECK(st.chunks_pushed == 1 && st.bytes_pushed == 4096 && st.chunks_resent == 0 && st.pushes == 1);
	CHECK(memcmp(g.base + 5 * 4096, want, sizeof want) == 0);
	/* a partial write of an absent chunk fetches it first */
	CHECK(managed_write(m, buf, 10, 9 * 4096 + 3, &e) == 0);
	managed_stats(m, &st);
	CHECK(st.demand_fetches == 1 && rig_bytes_read(&g) == 4096);
	CHECK(managed_flush(m, &e) == 0);
	CHECK(matches(g.base + 9 * 4096, 3, 9 * 4096, 5) && !memcmp(g.base + 9 * 4096 + 3, buf, 10) &&
	      matches(g.base + 9 * 4096 + 13, 4096 - 13, 9 * 4096 + 13, 5));
	CHECK(managed_flush(m, &e) == 0); /* nothing dirty: nothing sent */
	managed_stats(m, &st);
	CHECK(st.chunks_pushed == 2 && st.pushes == 2);

	/* the server refuses writes: the flush fails, the chunk stays dirty */
	fill(buf, sizeof buf, 5 * 4096, 7);
	CHECK(managed_write(m, buf, sizeof buf, 5 * 4096, &e) == 0);
	atomic_store(&g.tb.fail_writes, 1);
	err_clear(&e);
	CHECK(managed_flush(m, &e) == -1 && e.code == EIO);
	fprintf(stderr, "expected error: %s\n", e.msg);
	managed_stats(m, &st);
	CHECK(st.chunks_dirty == 1 && st.chunks_pushed == 2);
	CHECK(!matches(g.base + 5 * 4096, 4096, 5 * 4096, 7));
	atomic_store(&g.tb.fail_writes, 0);
	err_clear(&e);
	CHECK(managed_flush(m, &e) == 0);
	CHECK(matches(g.base + 5 * 4096, 4096, 5 * 4096, 7));
	managed_stats(m, &st);
	CHECK(st.chunks_dirty == 0 && st.chunks_pushed == 3 && st.chunks_resent == 1);
	managed_close(m);
	rig_stop(&g);
}

/* ---- (d) the remote dies mid-pull ---- */

/* Present chunks still read, absent ones fail within retry_ms, the pull
 * says it failed, close returns at once. */
static void test_remote_dies(void)
{
	struct rig g;
	struct err e = {0};
	rig_start(&g, dir, SIZE, 6, 1);
	atomic_store(&g.tb.read_delay_us, 1000);
	struct managed_opts o = {.chunk_size = 4096, .pull_inflight = 1, .retry_ms = 500, .close_timeout_ms = 3000};
	struct managed *m = managed_new(g.r, &o, &e);
	struct managed_stats st;
	for (int i = 0; i < 5000; i++) {
		managed_stats(m, &st);
		if (st.chunks_present >= 50)
			break;
		usleep(1000);
	}
	CHECK(st.chunks_present >= 50 && st.chunks_present < st.chunks / 2);
	nbd_server_free(g.s); /* drops every connection and the socket */
	g.s = NULL;
	unsigned char buf[8192];
	CHECK(managed_read(m, buf, sizeof buf, 4096 * 10, &e) == 0 && matches(buf, sizeof buf, 4096 * 10, 6));
	unsigned long long t0 = now_ns();
	err_clear(&e);
	CHECK(managed_read(m, buf, 100, SIZE - 100, &e) == -1 && e.code != 0);
	double secs = (double)(now_ns() - t0) / 1e9;
	fprintf(stderr, "expected error after %.2f s: %s\n", secs, e.msg);
	CHECK(secs < 5);
	err_clear(&e);
	CHECK(managed_wait_pulled(m, 10000, &e) == -1);
	fprintf(stderr, "expected error: %s\n", e.msg);
	managed_stats(m, &st);
	CHECK(st.pull_failed == 1 && st.chunks_present < st.chunks);
	CHECK(managed_read(m, buf, sizeof buf, 4096 * 20, &e) == 0 && matches(buf, sizeof buf, 4096 * 20, 6));
	t0 = now_ns();
	managed_close(m);
	CHECK(now_ns() - t0 < 3000000000ull);
	rig_stop(&g);
}

/* ---- (e) migration helpers ---- */

/* Track the writes, take them, invalidate: the remote's copy wins and the
 * pull fetches the invalidated chunks again. */
static void test_track_invalidate(void)
{
	struct rig g;
	struct err e = {0};
	rig_start(&g, dir, SIZE, 8, 0);
	struct managed_opts o = {.chunk_size = 4096, .pull_inflight = 4};
	struct managed *m = managed_new(g.r, &o, &e);
	CHECK(managed_wait_pulled(m, 60000, &e) == 0);
	managed_track_start(m);
	unsigned char buf[4096];
	fill(buf, sizeof buf, 0, 9);
	CHECK(managed_write(m, buf, 10, 3 * 4096 + 7, &e) == 0);
	CHECK(managed_write(m, buf, 4096, 7 * 4096, &e) == 0);
	CHECK(managed_write(m, buf, 2, 7 * 4096 + 4094, &e) == 0);
	CHECK(managed_write(m, buf, 4096, 100 * 4096, &e) == 0);
	size_t n = 99;
	uint64_t *t = managed_track_take(m, &n, &e);
	CHECK(t && n == 3 && t[0] == 3 && t[1] == 7 && t[2] == 100);
	free(t);
	t = managed_track_take(m, &n, &e);
	CHECK(t && n == 0);
	free(t);
	/* the remote changes chunks 3 and 7; the destination drops its copies */
	fill(g.base + 3 * 4096, 4096, 3 * 4096, 10);
	fill(g.base + 7 * 4096, 4096, 7 * 4096, 10);
	struct managed_stats before, st;
	managed_stats(m, &before);
	CHECK(before.chunks_dirty == 3 && before.pull_done_ns > 0);
	uint64_t inv[2] = {3, 7}, bad = 1u << 30;
	CHECK(managed_invalidate(m, inv, 2, &e) == 0);
	managed_stats(m, &st);
	CHECK(st.chunks_dirty == 1 && st.chunks_present <= st.chunks - 0);
	CHECK(managed_wait_pulled(m, 60000, &e) == 0);
	managed_stats(m, &st);
	CHECK(st.chunks_present == st.chunks && st.pull_done_ns > 0);
	CHECK(st.bytes_pulled_background == before.bytes_pulled_background + 2 * 4096);
	CHECK(managed_read(m, buf, 4096, 3 * 4096, &e) == 0 && matches(buf, 4096, 3 * 4096, 10));
	CHECK(managed_read(m, buf, 4096, 7 * 4096, &e) == 0 && matches(buf, 4096, 7 * 4096, 10));
	CHECK(managed_read(m, buf, 4096, 100 * 4096, &e) == 0 && matches(buf, 4096, 0, 9));
	err_clear(&e);
	CHECK(managed_invalidate(m, &bad, 1, &e) == -1 && e.code == EINVAL);
	err_clear(&e);
	CHECK(managed_flush(m, &e) == 0); /* only chunk 100 was still dirty */
	managed_stats(m, &st);
	CHECK(st.chunks_pushed == 1 && matches(g.base + 100 * 4096, 4096, 0, 9) && matches(g.base + 3 * 4096, 4096, 3 * 4096, 10));
	managed_close(m);
	rig_stop(&g);
}

/* ---- the engine as a backend behind a second NBD server ---- */

/* A client of the second server reads the origin's bytes and its writes
 * reach the origin after its flush. */
static void test_backend(void)
{
	struct rig g;
	struct err e = {0};
	rig_start(&g, dir, SIZE, 11, 0);
	struct managed_opts o = {.chunk_size = 65536, .pull_inflight = 2};
	struct managed *m = managed_new(g.r, &o, &e);
	struct backend *b = managed_backend_new(m, &e);
	CHECK(b && backend_size(b) == SIZE && !strncmp(b->spec, "managed:", 8));
	char sock[200], uri[256];
	snprintf(sock, sizeof sock, "%s/front.sock", dir);
	snprintf(uri, sizeof uri, "nbd+unix:///?socket=%s", sock);
	struct nbd_server *s = nbd_server_new(b, NULL, &e);
	CHECK(s && nbd_server_listen(s, NULL, sock, &e) == 0);
	struct remote *r = remote_connect(uri, 2, &e);
	CHECK(r && remote_size(r) == SIZE);
	unsigned char *buf = malloc(SIZE);
	CHECK(remote_pread(r, buf, SIZE, 0, &e) == 0 && matches(buf, SIZE, 0, 11));
	fill(buf, 300000, 1000, 12);
	CHECK(remote_pwrite(r, buf, 300000, 1000, &e) == 0);
	CHECK(matches(g.base + 1000, 300000, 1000, 11)); /* kept local until the flush */
	CHECK(remote_flush(r, &e) == 0);
	CHECK(matches(g.base + 1000, 300000, 1000, 12) && matches(g.base, 1000, 0, 11));
	remote_close(r);
	nbd_server_free(s);
	backend_close(b);
	managed_close(m);
	rig_stop(&g);
	free(buf);
}

/* ---- options ---- */

/* Bad options and order files are refused with a reason. */
static void test_bad_options(void)
{
	struct rig g;
	struct err e = {0};
	rig_start(&g, dir, SIZE, 1, 0);
	struct managed_opts o = {.chunk_size = 3000};
	CHECK(managed_new(g.r, &o, &e) == NULL && strstr(e.msg, "power of two"));
	err_clear(&e);
	o = (struct managed_opts){.chunk_size = 2u << 20};
	CHECK(managed_new(g.r, &o, &e) == NULL && e.code == EINVAL);
	err_clear(&e);
	o = (struct managed_opts){.order = MANAGED_ORDER_LIST};
	CHECK(managed_new(g.r, &o, &e) == NULL && strstr(e.msg, "order file"));
	char list[200];
	snprintf(list, sizeof list, "%s/bad.list", dir);
	FILE *f = fopen(list, "w");
	fprintf(f, "4096\n1G\n");
	fclose(f);
	err_clear(&e);
	o.order_file = list;
	CHECK(managed_new(g.r, &o, &e) == NULL && strstr(e.msg, "bad.list:2:") && strstr(e.msg, "outside"));
	f = fopen(list, "w");
	fprintf(f, "12 apples\n");
	fclose(f);
	err_clear(&e);
	CHECK(managed_new(g.r, &o, &e) == NULL && strstr(e.msg, "bad.list:1:"));
	fprintf(stderr, "expected error: %s\n", e.msg);
	err_clear(&e);
	o = (struct managed_opts){.cache_path = "/nonexistent-dir/cache"};
	CHECK(managed_new(g.r, &o, &e) == NULL && strstr(e.msg, "cache file"));
	err_clear(&e);
	o = (struct managed_opts){.pull_inflight = -1};
	struct managed *m = managed_new(g.r, &o, &e);
	unsigned char b[2];
	CHECK(m && managed_read(m, b, 2, SIZE - 1, &e) == -1 && e.code == EINVAL);
	err_clear(&e);
	CHECK(m && managed_write(m, b, 1, SIZE, &e) == -1 && e.code == EINVAL);
	CHECK(m && managed_size(m) == SIZE);
	managed_close(m);
	rig_stop(&g);
}

/* Run every test in a scratch directory; 77 (skip) without libnbd. */
int main(void)
{
	if (!remote_available()) {
		fprintf(stderr, "SKIP: built without libnbd\n");
		return 77;
	}
	log_verbose = 1;
	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	static const uint64_t chunks[] = {4096, 1u << 20};
	for (int i = 0; i < 2; i++) {
		test_order(MANAGED_ORDER_LINEAR, chunks[i]);
		test_order(MANAGED_ORDER_HEADER_FIRST, chunks[i]);
		test_order(MANAGED_ORDER_LIST, chunks[i]);
		test_order(MANAGED_ORDER_FOLLOW, chunks[i]);
		test_concurrent_reads(1, chunks[i]);
		test_concurrent_reads(64, chunks[i]);
		test_concurrent_reads(-1, chunks[i]);
		test_writes_race_push(chunks[i], NULL);
	}
	char cache[200];
	snprintf(cache, sizeof cache, "%s/cache", dir);
	test_writes_race_push(4096, cache);
	test_writes_race_push(1u << 20, dir); /* a directory: an unnamed file in it */
	test_joins();
	test_dedup_and_failed_push();
	test_remote_dies();
	test_track_invalidate();
	test_backend();
	test_bad_options();
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
	return check_done();
}
