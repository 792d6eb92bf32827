/* managed_rig.c - the server, test backend and checks of test_managed (see managed_rig.h). */
#include "managed_rig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "managed.h"
#include "nbd_server.h"
#include "pattern.h"
#include "remote.h"

/* Read, after the delay; EIO when told to fail. */
static int tb_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	struct testb *t = (struct testb *)b;
	int us = atomic_load(&t->read_delay_us);
	if (us)
		usleep((useconds_t)us);
	if (atomic_load(&t->fail_reads))
		return err_errno(e, EIO, "test backend: read failure");
	return backend_read(t->mem, buf, len, off, e);
}

/* Write; EIO when told to fail. */
static int tb_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	struct testb *t = (struct testb *)b;
	if (atomic_load(&t->fail_writes))
		return err_errno(e, EIO, "test backend: write failure");
	return backend_write(t->mem, buf, len, off, e);
}

/* Flush the memory (nothing). */
static int tb_flush(struct backend *b, struct err *e)
{
	return backend_flush(((struct testb *)b)->mem, e);
}

/* Zero a range of the memory. */
static int tb_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	return backend_zero(((struct testb *)b)->mem, len, off, e);
}

/* Nothing owned but the wrapper. */
static void tb_close(struct backend *b)
{
	(void)b;
}

static const struct backend_ops testb_ops = {
	.kind = "test", .read = tb_read, .write = tb_write, .flush = tb_flush,
	.trim = tb_zero, .zero = tb_zero, .close = tb_close,
};

/* Start the server and connect; a rig that cannot start ends the test. */
void rig_start(struct rig *g, const char *dir, uint64_t size, unsigned seed, int retries)
{
	static int n;
	struct err e = {0};
	memset(g, 0, sizeof *g);
	g->tb.mem = backend_memory_new(size, &e);
	if (g->tb.mem) {
		g->base = backend_base(g->tb.mem);
		fill(g->base, size, 0, seed);
		g->tb.b.ops = &testb_ops;
		g->tb.b.size = size;
		snprintf(g->tb.b.spec, sizeof g->tb.b.spec, "test");
		snprintf(g->sock, sizeof g->sock, "%s/s%d.sock", dir, n++);
		snprintf(g->uri, sizeof g->uri, "nbd+unix:///?socket=%s", g->sock);
		struct nbd_server_opts so = {.workers = 8};
		g->s = nbd_server_new(&g->tb.b, &so, &e);
	}
	if (g->s && nbd_server_listen(g->s, NULL, g->sock, &e) == 0) {
		struct remote_opts ro = {.uri = g->uri, .nconn = 2, .max_inflight = 256, .retries = retries,
					 .close_timeout_ms = 2000, .connect_timeout_ms = 2000};
		g->r = remote_connect_opts(&ro, &e);
	}
	if (!g->r) {
		fprintf(stderr, "test rig: %s\n", e.msg);
		exit(1);
	}
}

/* Bytes the server has sent for reads. */
uint64_t rig_bytes_read(struct rig *g)
{
	struct nbd_server_stats st;
	nbd_server_stats(g->s, &st);
	return st.bytes_read;
}

/* Close the remote and the server. */
void rig_stop(struct rig *g)
{
	remote_close(g->r);
	if (g->s)
		nbd_server_free(g->s);
	backend_close(g->tb.mem);
}

/* Read the whole region through the engine and compare with want. */
int region_is(struct managed *m, const unsigned char *want, uint64_t size)
{
	struct err e = {0};
	unsigned char *buf = malloc(size);
	int ok = buf && managed_read(m, buf, size, 0, &e) == 0 && memcmp(buf, want, size) == 0;
	if (e.set)
		fprintf(stderr, "read: %s\n", e.msg);
	free(buf);
	return ok;
}

/* Read the whole region and compare with the pattern of seed. */
int region_matches(struct managed *m, uint64_t size, unsigned seed)
{
	unsigned char *want = malloc(size);
	fill(want, size, 0, seed);
	int ok = region_is(m, want, size);
	free(want);
	return ok;
}
