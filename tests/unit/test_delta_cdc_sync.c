/*
 * test_delta_cdc_sync.c - content-defined-chunking cycles over loopback:
 * a destination holding an older version of a file (bytes inserted,
 * deleted, overwritten, the file grown and shrunk) ends with the exact
 * source after one cycle; only the chunks around the edits travel; in-place
 * changes are written into the copy (no rebuild), shifted ones rebuild it;
 * an unchanged source sends nothing; every hash works.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "test_delta_common.h"
#include "delta_engine.h"

static char dir[] = "/tmp/test-delta-cdc-XXXXXX";

/* Replace [at, at+del) of buf (size *n) with ins bytes of new content. */
static void edit(uint8_t *buf, uint64_t *n, uint64_t at, uint64_t del, uint64_t ins, uint64_t seed)
{
	memmove(buf + at + ins, buf + at + del, *n - at - del);
	fill_random(buf + at, ins, seed);
	*n = *n - del + ins;
}

/* One cycle; the destination must then equal the source. */
static int cycle_ok(struct delta_sender *s, struct delta_store *st, const uint8_t *src, uint64_t n)
{
	struct err e = {0};
	struct delta_view v = {.base = n ? src : (const uint8_t *)"", .size = n};
	int rc = delta_sender_cycle(s, &v, NULL, &e);
	if (rc)
		fprintf(stderr, "cycle failed: %s\n", e.msg);
	usleep(20000); /* the receiver thread finishes the ACKed cycle */
	return !rc && store_equals(st, src, n);
}

/* A file and edits on it, for one hash and average. */
static void run_edits(unsigned algo, uint32_t avg)
{
	const uint64_t size = 6 << 20, room = size + (1 << 20);
	char path[256];
	struct err e = {0};
	uint8_t *src = malloc(room), *old = malloc(room);
	fill_random(src, size, algo * 7 + avg);
	uint64_t n = size;
	/* The destination holds an older version: the source has since
	 * gained 3000 bytes early on and lost 9000 later. */
	memcpy(old, src, size);
	edit(src, &n, 100000, 0, 3000, 1);
	edit(src, &n, 4000000, 9000, 0, 2);
	snprintf(path, sizeof path, "%s/dest-%u-%u", dir, algo, avg);
	struct delta_store st;
	CHECK(delta_store_open(&st, path, size, &e) == 0);
	CHECK(pwrite(st.fd, old, size, 0) == (ssize_t)size);
	int port = 0;
	CHECK(delta_store_listen(&st, "127.0.0.1", &port, &e) == 0);
	struct delta_sender s;
	CHECK(delta_sender_init(&s, "127.0.0.1", port, avg, algo, DELTA_MODE_CDC_CHUNKS, 2, &e) == 0);
	CHECK(delta_sender_connect(&s, n, 5000, &e) == 0);
	CHECK(cycle_ok(&s, &st, src, n));
	printf("%s avg %u: shifted file: %llu chunks, %llu bytes sent, %llu metadata bytes\n", delta_algo_name(algo),
	       avg, (unsigned long long)s.last_chunks, (unsigned long long)s.last_bytes,
	       (unsigned long long)s.last_meta);
	CHECK(s.last_chunks >= 2 && s.last_bytes < 12ull * avg + 3000); /* the chunks around the two edits */
	CHECK(st.cdc_rebuilds == 1);
	/* Nothing changed: nothing on the wire. */
	uint64_t skipped = s.skipped, wire = s.c.bytes_out;
	CHECK(cycle_ok(&s, &st, src, n) && s.skipped == skipped + 1 && s.c.bytes_out == wire);
	/* In-place overwrite of a few bytes: written into the copy, not rebuilt. */
	src[12345] ^= 0x5a, src[n / 2] ^= 1;
	CHECK(cycle_ok(&s, &st, src, n));
	CHECK(st.cdc_rebuilds == 1 && s.last_chunks >= 1 && s.last_chunks <= 6);
	/* Growth at the end, then a cut at the front (every chunk moves). */
	fill_random(src + n, 200000, 5);
	n += 200000;
	CHECK(cycle_ok(&s, &st, src, n));
	edit(src, &n, 0, 70000, 0, 0);
	CHECK(cycle_ok(&s, &st, src, n));
	CHECK(s.last_bytes < 8ull * avg);
	/* Shrink to a few bytes, to nothing, and back. */
	n = 100;
	CHECK(cycle_ok(&s, &st, src, n));
	n = 0;
	CHECK(cycle_ok(&s, &st, src, n));
	fill_random(src, size, 9);
	n = size;
	CHECK(cycle_ok(&s, &st, src, n) && s.last_bytes == size);
	/* A new session (fresh sender): the destination reuses its chunk list. */
	delta_sender_free(&s);
	src[777] ^= 1;
	CHECK(delta_sender_init(&s, "127.0.0.1", port, avg, algo, DELTA_MODE_CDC_CHUNKS, 2, &e) == 0);
	CHECK(delta_sender_connect(&s, n, 5000, &e) == 0);
	CHECK(cycle_ok(&s, &st, src, n) && s.last_chunks == 1);
	delta_sender_free(&s);
	delta_store_stop(&st);
	delta_store_close(&st);
	unlink(path);
	free(src);
	free(old);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	for (uint32_t avg = 4096; avg <= 65536; avg *= 4)
		run_edits(DELTA_XXH3, avg);
	for (unsigned algo = 1; algo <= DELTA_ALGO_MAX; algo++)
		if (algo != DELTA_XXH3 && delta_algo_available(algo))
			run_edits(algo, 16384);
	struct err e = {0};
	struct delta_sender s;
	CHECK(delta_sender_init(&s, "127.0.0.1", 1, 3000, DELTA_XXH3, DELTA_MODE_CDC_CHUNKS, 1, &e) == -1);
	delta_sender_free(&s);
	rmdir(dir);
	return check_done();
}
