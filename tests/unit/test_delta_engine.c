/*
 * test_delta_engine.c - the delta engine over loopback TCP: initial sync
 * with a stale destination, steady-state cycles for every hash, growth and
 * shrinking, whole-file mode, a receiver that drops the connection
 * mid-cycle (then a hash exchange repairs it), bad frames, and a hub with
 * two destinations, one joining late.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "delta_engine.h"

static char dir[] = "/tmp/test-delta-XXXXXX";

/* Does the store hold exactly buf[0..size)? */
static int store_equals(struct delta_store *s, const uint8_t *buf, uint64_t size)
{
	uint8_t *tmp = malloc(size ? size : 1);
	struct err e = {0};
	int ok = s->size == size && (size == 0 || delta_store_read(s, tmp, size, 0, &e) == 0) && !memcmp(tmp, buf, size);
	if (!ok)
		fprintf(stderr, "store differs (size %llu vs %llu) %s\n", (unsigned long long)s->size,
			(unsigned long long)size, e.msg);
	free(tmp);
	return ok;
}

/* Wait for a store to finish its current cycle (the receiver thread applies the ACKed END before we read). */
static void settle(void) { usleep(20000); }

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	const uint64_t size = 4 << 20;
	uint8_t *src = malloc(size + (1 << 20));
	for (uint64_t i = 0; i < size; i++)
		src[i] = (uint8_t)(i * 7 + i / 4096);
	char path[256];
	struct err e = {0};

	/* A stale destination: half the chunks differ. */
	snprintf(path, sizeof path, "%s/dest", dir);
	struct delta_store st;
	CHECK(delta_store_open(&st, path, size, &e) == 0);
	uint8_t *stale = malloc(size);
	memcpy(stale, src, size);
	for (uint64_t i = 0; i < size; i += 8192)
		stale[i] ^= 1;
	CHECK(pwrite(st.fd, stale, size, 0) == (ssize_t)size);
	int port = 0;
	CHECK(delta_store_listen(&st, "127.0.0.1", &port, &e) == 0);

	for (unsigned algo = 1; algo <= DELTA_ALGO_MAX; algo++) {
		struct delta_sender s;
		CHECK(delta_sender_init(&s, "127.0.0.1", port, 4096, algo, 0, 2, &e) == 0);
		CHECK(delta_sender_connect(&s, size, 5000, &e) == 0);
		struct delta_view v = {.base = src, .size = size};
		CHECK(delta_sender_cycle(&s, &v, NULL, &e) == 0);
		if (algo == 1)
			CHECK(s.last_chunks == size / 8192); /* only the stale half */
		settle();
		CHECK(store_equals(&st, src, size));
		/* Change 3 chunks: exactly those are sent. */
		src[5] ^= 0xff, src[4096 * 100] ^= 1, src[size - 1] ^= 2;
		CHECK(delta_sender_cycle(&s, &v, NULL, &e) == 0);
		CHECK(s.last_chunks == 3 && s.last_bytes == 3 * 4096);
		settle();
		CHECK(store_equals(&st, src, size));
		/* A dirty list (pagemap mode): only the marked chunk is looked at. */
		uint8_t *dirty = calloc(size / 4096, 1);
		src[4096 * 7 + 3] ^= 1;
		dirty[7] = 1;
		CHECK(delta_sender_cycle(&s, &v, dirty, &e) == 0 && s.last_chunks == 1);
		free(dirty);
		/* Growth and shrinking (not chunk aligned). */
		v.size = size + 5000;
		for (uint64_t i = size; i < v.size; i++)
			src[i] = (uint8_t)i;
		CHECK(delta_sender_cycle(&s, &v, NULL, &e) == 0);
		settle();
		CHECK(store_equals(&st, src, v.size));
		v.size = size - 3000;
		CHECK(delta_sender_cycle(&s, &v, NULL, &e) == 0);
		settle();
		CHECK(store_equals(&st, src, v.size));
		v.size = size;
		CHECK(delta_sender_cycle(&s, &v, NULL, &e) == 0);
		settle();
		CHECK(store_equals(&st, src, size));
		delta_sender_free(&s);
		if (e.set)
			fprintf(stderr, "algo %u: %s\n", algo, e.msg), err_clear(&e);
	}

	/* Whole-file mode: any change resends everything. */
	{
		struct delta_sender s;
		CHECK(delta_sender_init(&s, "127.0.0.1", port, 65536, DELTA_XXH3, 1, 2, &e) == 0);
		CHECK(delta_sender_connect(&s, size, 5000, &e) == 0);
		struct delta_view v = {.base = src, .size = size};
		CHECK(delta_sender_cycle(&s, &v, NULL, &e) == 0 && s.last_chunks == 0);
		src[12345] ^= 1;
		CHECK(delta_sender_cycle(&s, &v, NULL, &e) == 0 && s.last_bytes == size);
		settle();
		CHECK(store_equals(&st, src, size));
		delta_sender_free(&s);
	}

	/* The receiver drops the connection mid-cycle: the store refuses reads,
	 * the sender reconnects with a hash exchange and ends identical. */
	{
		struct delta_sender s;
		CHECK(delta_sender_init(&s, "127.0.0.1", port, 4096, DELTA_XXH3, 0, 2, &e) == 0);
		CHECK(delta_sender_connect(&s, size, 5000, &e) == 0);
		struct delta_view v = {.base = src, .size = size};
		for (uint64_t i = 0; i < size; i += 4096 * 4)
			src[i] ^= 0x33;
		st.fault_drop_chunks = 10;
		CHECK(delta_sender_cycle(&s, &v, NULL, &e) == -1);
		CHECK(e.set);
		fprintf(stderr, "expected failure: %s\n", e.msg);
		err_clear(&e);
		settle();
		uint8_t one;
		CHECK(delta_store_read(&st, &one, 1, 0, &e) == -1 && strstr(e.msg, "mid-cycle"));
		err_clear(&e);
		CHECK(!s.connected);
		CHECK(delta_sender_connect(&s, size, 5000, &e) == 0);
		CHECK(delta_sender_cycle(&s, &v, NULL, &e) == 0);
		CHECK(s.last_chunks == size / 4096 / 4 - 10);
		settle();
		CHECK(store_equals(&st, src, size));
		delta_sender_free(&s);
	}

	/* Bad frames: wrong version, garbage, a CHUNK outside a cycle. */
	{
		struct delta_conn c;
		struct delta_msg m;
		uint8_t b[64];
		CHECK(delta_connect(&c, "127.0.0.1", port, 2000, &e) == 0);
		size_t n = delta_enc_hello(b, size, 4096, DELTA_XXH3, 0, 1);
		b[4] = 9;
		CHECK(delta_put(&c, b, n, &e) == 0);
		CHECK(delta_recv(&c, &m, 5000, &e) == -1 && strstr(e.msg, "version"));
		fprintf(stderr, "expected: %s\n", e.msg);
		err_clear(&e);
		delta_conn_close(&c);
		CHECK(delta_connect(&c, "127.0.0.1", port, 2000, &e) == 0);
		n = delta_enc_chunk(b, 0, 8);
		CHECK(delta_put(&c, b, n, &e) == 0 && delta_put(&c, "12345678", 8, &e) == 0);
		CHECK(delta_recv(&c, &m, 5000, &e) == -1 && strstr(e.msg, "HELLO"));
		err_clear(&e);
		delta_conn_close(&c);
		/* Truncated frame: header promises more than is sent, then close. */
		CHECK(delta_connect(&c, "127.0.0.1", port, 2000, &e) == 0);
		n = delta_enc_hello(b, size, 4096, DELTA_XXH3, 0, 1);
		CHECK(delta_put(&c, b, n - 5, &e) == 0 && delta_flush(&c, &e) == 0);
		delta_conn_close(&c);
		settle();
		CHECK(store_equals(&st, src, size)); /* untouched */
	}
	delta_store_stop(&st);
	delta_store_close(&st);

	/* Hub with two destinations, the second joining 300 ms late. */
	{
		struct delta_hub h;
		int hp = 0;
		int prep(const char *p, int idx, void *ctx, struct err *pe);
		struct delta_tls psk = {.key = "0123456789abcdef0123456789abcdef", .len = 32};
		CHECK(delta_hub_start(&h, dir, "127.0.0.1", &hp, size, 2, 16384, DELTA_XXH3, 2, 300, delta_tls_available() ? &psk : NULL, prep, src, &e) == 0);
		struct delta_sender s;
		CHECK(delta_sender_init(&s, "127.0.0.1", hp, 16384, DELTA_XXH3, 0, 2, &e) == 0);
		if (delta_tls_available())
			s.sec = psk; /* the hub and its destinations speak TLS-PSK */
		CHECK(delta_sender_connect(&s, size, 5000, &e) == 0);
		struct delta_view v = {.base = src, .size = size};
		for (int round = 0; round < 5; round++) {
			for (int k = 0; k < 20; k++)
				src[(uint64_t)rand() % size] ^= 0x5a;
			CHECK(delta_sender_cycle(&s, &v, NULL, &e) == 0);
			usleep(100000);
		}
		uint8_t *back = malloc(size);
		CHECK(delta_hub_read(&h, back, size, 0, &e) == 0);
		CHECK(!memcmp(back, src, size));
		CHECK(h.dests[1].joined && h.dests[0].version == h.version && h.dests[1].version == h.version);
		free(back);
		delta_sender_free(&s);
		delta_hub_stop(&h);
	}
	if (e.set)
		fprintf(stderr, "last error: %s\n", e.msg);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd)) {
	}
	free(src);
	free(stale);
	return check_done();
}

/* Hub copies start as zeros except the hub's own, which is the source's old content. */
int prep(const char *p, int idx, void *ctx, struct err *pe)
{
	(void)ctx;
	(void)idx;
	FILE *f = fopen(p, "w");
	if (!f)
		return err_set(pe, "cannot create %s", p);
	fclose(f);
	return 0;
}
