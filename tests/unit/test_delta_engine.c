/*
 * test_delta_engine.c - the delta engine over loopback TCP: initial sync
 * with a stale destination, steady-state cycles for every hash, growth and
 * shrinking, whole-file mode, a receiver that drops the connection
 * mid-cycle (then a hash exchange repairs it), bad frames, a read that
 * waits for the cycle in progress, the mode of a created copy, and a hub
 * with two destinations, one joining late.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "test_delta_common.h"
#include "delta_engine.h"

static char dir[] = "/tmp/test-delta-XXXXXX";

/* Wait for a store to finish its current cycle (the receiver thread applies the ACKed END before we read). */
static void settle(void) { usleep(20000); }

/* A read of a store from another thread (see read_waits_for_cycle). */
struct reader {
	struct delta_store *s;
	uint8_t buf[4096];
	int rc;
	volatile int done;
	struct err e;
};

/* Thread: read the first 4 KiB of the store. */
static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	r->rc = delta_store_read(r->s, r->buf, sizeof r->buf, 0, &r->e);
	r->done = 1;
	return NULL;
}

/* A read while a connected source is mid-cycle waits for the END (the
 * store's condition variable), then sees the new content. */
static void read_waits_for_cycle(const char *path)
{
	struct err e = {0};
	struct delta_store st;
	int port = 0;
	CHECK(delta_store_open(&st, path, 8192, &e) == 0 && delta_store_listen(&st, "127.0.0.1", &port, &e) == 0);
	struct delta_conn c;
	struct delta_msg m;
	uint8_t b[64], data[4096];
	memset(data, 0x6b, sizeof data);
	CHECK(delta_connect(&c, "127.0.0.1", port, 2000, &e) == 0);
	size_t n = delta_enc_hello(b, 8192, 4096, DELTA_XXH3, 0, 0, 1);
	CHECK(delta_put(&c, b, n, &e) == 0 && delta_flush(&c, &e) == 0);
	CHECK(delta_recv(&c, &m, 5000, &e) == 0 && m.type == DELTA_HELLO_REPLY);
	CHECK(delta_recv(&c, &m, 5000, &e) == 0 && m.type == DELTA_HASHES && m.u.hashes.count == 2);
	n = delta_enc_begin(b, 1, 8192);
	CHECK(delta_put(&c, b, n, &e) == 0);
	n = delta_enc_chunk(b, 0, sizeof data);
	CHECK(delta_put(&c, b, n, &e) == 0 && delta_put(&c, data, sizeof data, &e) == 0 && delta_flush(&c, &e) == 0);
	usleep(100000); /* the receiver has applied BEGIN and the chunk */
	struct reader r = {.s = &st};
	pthread_t th;
	CHECK(pthread_create(&th, NULL, reader_thread, &r) == 0);
	usleep(200000);
	CHECK(!r.done); /* still waiting: the cycle is open */
	n = delta_enc_end(b, 1, 1, sizeof data);
	CHECK(delta_put(&c, b, n, &e) == 0 && delta_recv(&c, &m, 5000, &e) == 0 && m.type == DELTA_ACK);
	pthread_join(th, NULL);
	CHECK(r.rc == 0 && !memcmp(r.buf, data, sizeof data));
	if (r.rc)
		fprintf(stderr, "read after END: %s\n", r.e.msg);
	delta_conn_close(&c);
	delta_store_stop(&st);
	delta_store_close(&st);
	if (e.set)
		fprintf(stderr, "read_waits_for_cycle: %s\n", e.msg);
}

/* The mode of a copy: one the receiver creates takes the permission bits
 * the source sends in HELLO, or 0644 (before the umask) when none are
 * sent, like the source file it mirrors; an existing copy keeps its own. */
static void copy_mode(const uint8_t *src)
{
	static const struct { const char *name; int exists; uint16_t sent; mode_t want; } cases[] = {
		{"mode-new", 0, 0640, 0640},
		{"mode-none", 0, 0, 0644},
		{"mode-existing", 1, 0640, 0600},
	};
	mode_t old = umask(022);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[256];
		struct err e = {0};
		snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
		if (cases[i].exists) {
			int fd = open(path, O_CREAT | O_WRONLY, 0600);
			CHECK(fd >= 0 && close(fd) == 0);
		}
		struct delta_store st;
		int port = 0;
		CHECK(delta_store_open(&st, path, 0, &e) == 0 && delta_store_listen(&st, "127.0.0.1", &port, &e) == 0);
		struct delta_sender s;
		CHECK(delta_sender_init(&s, "127.0.0.1", port, 4096, DELTA_XXH3, 0, 2, &e) == 0);
		s.file_mode = cases[i].sent;
		struct delta_view v = {.base = src, .size = 8192};
		CHECK(delta_sender_connect(&s, v.size, 5000, &e) == 0 && delta_sender_cycle(&s, &v, NULL, &e) == 0);
		delta_sender_free(&s);
		struct stat sb;
		CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == cases[i].want);
		if ((sb.st_mode & 0777) != cases[i].want || e.set)
			fprintf(stderr, "%s: mode %o, want %o %s\n", cases[i].name, (unsigned)(sb.st_mode & 0777),
				(unsigned)cases[i].want, e.msg);
		delta_store_stop(&st);
		delta_store_close(&st);
	}
	umask(old);
}

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
		if (!delta_algo_available(algo))
			continue;
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
		size_t n = delta_enc_hello(b, size, 4096, DELTA_XXH3, 0, 0, 1);
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
		n = delta_enc_hello(b, size, 4096, DELTA_XXH3, 0, 0, 1);
		CHECK(delta_put(&c, b, n - 5, &e) == 0 && delta_flush(&c, &e) == 0);
		delta_conn_close(&c);
		settle();
		CHECK(store_equals(&st, src, size)); /* untouched */
	}
	delta_store_stop(&st);
	delta_store_close(&st);

	snprintf(path, sizeof path, "%s/waiting", dir);
	read_waits_for_cycle(path);
	copy_mode(src);

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
