/*
 * test_remote_backend.c - unit tests of the memory, file and directory
 * backends (approaches/common/backend.c): spec parsing, round trips,
 * zero/trim, range checks, concurrent writers on the directory backend;
 * the pass-through backend (backend_passthrough.c): forwarding, observed
 * reads, a flush that ends there or is forwarded.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "check.h"

/* Fill buf with a pattern derived from off. */
static void pattern(unsigned char *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)((off + i) * 2654435761u >> 13);
}

/* Round trips, zeroing and bounds on any backend of at least 4 MiB. */
static void exercise(struct backend *b)
{
	struct err e = {0};
	size_t len = 3 * 1024 * 1024 + 123;
	uint64_t off = 777;
	unsigned char *w = malloc(len), *r = malloc(len);
	pattern(w, len, off);
	CHECK(backend_write(b, w, len, off, &e) == 0);
	CHECK(backend_read(b, r, len, off, &e) == 0);
	CHECK(memcmp(w, r, len) == 0);
	CHECK(backend_flush(b, &e) == 0);
	/* zero a range spanning chunk boundaries, check the edges survived */
	CHECK(backend_zero(b, 2 * 1024 * 1024, 1000000, &e) == 0);
	CHECK(backend_read(b, r, len, off, &e) == 0);
	for (size_t i = 0; i < len; i++) {
		uint64_t at = off + i;
		int zeroed = at >= 1000000 && at < 1000000 + 2 * 1024 * 1024;
		if ((zeroed && r[i]) || (!zeroed && r[i] != w[i])) {
			CHECK(!"zero range wrong");
			break;
		}
	}
	CHECK(backend_trim(b, 4096, 0, &e) == 0);
	CHECK(backend_read(b, r, 4096, 0, &e) == 0);
	CHECK(r[0] == 0 && r[4095] == 0);
	/* bounds */
	uint64_t size = backend_size(b);
	err_clear(&e);
	CHECK(backend_read(b, r, 2, size - 1, &e) == -1 && e.code != 0);
	err_clear(&e);
	CHECK(backend_write(b, w, 1, size, &e) == -1);
	err_clear(&e);
	CHECK(backend_zero(b, 1, UINT64_MAX, &e) == -1);
	err_clear(&e);
	CHECK(backend_read(b, r, 1, size - 1, &e) == 0);
	free(w);
	free(r);
}

struct writer_arg {
	struct backend *b;
	int idx;
};

/* Write and verify one 256 KiB stripe repeatedly. */
static void *writer(void *p)
{
	struct writer_arg *a = p;
	unsigned char buf[65536], back[65536];
	struct err e = {0};
	for (int round = 0; round < 20; round++)
		for (uint64_t off = (uint64_t)a->idx * 262144; off < (uint64_t)(a->idx + 1) * 262144; off += sizeof buf) {
			pattern(buf, sizeof buf, off + (uint64_t)round);
			if (backend_write(a->b, buf, sizeof buf, off, &e) || backend_read(a->b, back, sizeof back, off, &e) ||
			    memcmp(buf, back, sizeof buf)) {
				CHECK(!"concurrent write/read mismatch");
				return NULL;
			}
		}
	return NULL;
}

/* Run tests. */
/* An inner backend for the pass-through test: memory, but its flush fails. */
static int failing_flush(struct backend *b, struct err *e)
{
	(void)b;
	return err_errno(e, EIO, "inner flush");
}

/* What the pass-through's read observer saw. */
struct observed {
	uint64_t reads, bytes, last_off;
};

/* Read observer: count. */
static void observe(void *arg, size_t len, uint64_t off)
{
	struct observed *o = arg;
	o->reads++;
	o->bytes += len;
	o->last_off = off;
}

/* The pass-through backend over memory: forwarding, observed reads, flush. */
static void test_passthrough(void)
{
	for (int ends = 0; ends <= 1; ends++) {
		struct err e = {0};
		struct backend *mem = backend_memory_new(8u << 20, &e);
		CHECK(mem != NULL);
		if (!mem)
			return;
		static struct backend_ops ops;
		ops = *mem->ops;
		ops.flush = failing_flush;
		mem->ops = &ops;
		struct observed o = {0};
		struct backend_passthrough_hooks h = {.kind = "test-pt", .flush_ends_here = ends, .after_read = observe, .arg = &o};
		struct backend *b = backend_passthrough_new(mem, &h, &e);
		CHECK(b != NULL && backend_size(b) == 8u << 20 && strncmp(b->spec, "test-pt:memory", 14) == 0);
		unsigned char w[5000], r[5000];
		pattern(w, sizeof w, 12345);
		CHECK(backend_write(b, w, sizeof w, 12345, &e) == 0);
		CHECK(backend_read(b, r, sizeof r, 12345, &e) == 0 && memcmp(w, r, sizeof w) == 0);
		CHECK(memcmp((unsigned char *)backend_base(mem) + 12345, w, sizeof w) == 0); /* it went through */
		CHECK(o.reads == 1 && o.bytes == sizeof r && o.last_off == 12345);
		CHECK(backend_read(b, r, 2, (8u << 20) - 1, &e) == -1); /* out of range: not observed */
		CHECK(o.reads == 1);
		err_clear(&e);
		if (ends)
			CHECK(backend_flush(b, &e) == 0);
		else
			CHECK(backend_flush(b, &e) == -1 && e.code == EIO);
		backend_close(b); /* closes mem too (ASan: no leak) */
	}
}

int main(void)
{
	struct err e = {0};
	char dir[] = "/tmp/memsync-backend.XXXXXX", path[256], spec[300];
	CHECK(mkdtemp(dir) != NULL);

	struct backend *b = backend_open("memory:8M", &e);
	CHECK(b && backend_base(b) && backend_size(b) == 8u << 20);
	if (b) {
		memset(backend_base(b), 0x5a, 10);
		unsigned char c;
		CHECK(backend_read(b, &c, 1, 9, &e) == 0 && c == 0x5a);
		exercise(b);
		backend_close(b);
	}

	snprintf(spec, sizeof spec, "file:%s/f.img:8M", dir);
	b = backend_open(spec, &e);
	CHECK(b && !backend_base(b) && backend_size(b) == 8u << 20);
	if (b) {
		exercise(b);
		backend_close(b);
	}
	snprintf(spec, sizeof spec, "file:%s/f.img", dir); /* size from the existing file */
	b = backend_open(spec, &e);
	CHECK(b && backend_size(b) == 8u << 20);
	backend_close(b);

	snprintf(spec, sizeof spec, "dir:%s/chunks:8M:chunk=64k", dir);
	b = backend_open(spec, &e);
	CHECK(b && backend_size(b) == 8u << 20);
	if (b) {
		exercise(b);
		unsigned char z[100];
		CHECK(backend_read(b, z, sizeof z, 7u << 20, &e) == 0 && z[0] == 0 && z[99] == 0); /* never written */
		pthread_t t[8];
		struct writer_arg a[8];
		for (int i = 0; i < 8; i++) {
			a[i] = (struct writer_arg){b, i};
			pthread_create(&t[i], NULL, writer, &a[i]);
		}
		for (int i = 0; i < 8; i++)
			pthread_join(t[i], NULL);
		backend_close(b);
	}

	static const char *bad[] = {"", "memory", "memory:", "memory:0", "memory:12Q", "tape:1M", "file:",
				    "dir:/tmp/x", "dir:/tmp/x:1M:chunky=4", "dir:/tmp/x:1M:chunk=0",
				    "remote:nbd+unix:///?socket=/nonexistent/sock"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear(&e);
		b = backend_open(bad[i], &e);
		if (b) {
			fprintf(stderr, "accepted bad spec '%s'\n", bad[i]);
			check_fail();
			backend_close(b);
		} else {
			CHECK(e.set && e.msg[0]);
		}
	}
	test_passthrough();
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path))
		fprintf(stderr, "cleanup failed\n");
	return check_done();
}
