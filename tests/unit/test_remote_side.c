/*
 * test_remote_side.c - the shared NBD remote side (approaches/common/
 * remote_side.c): each backend kind filled through the callback (sizes
 * that end inside a fill piece), read back directly and through an NBD
 * client (libnbd, when built with it), a change made through the exposed
 * backend seen by a live client, and bad specs refused with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "remote.h"
#include "remote_side.h"

#define SIZE (REMOTE_SIDE_FILL_PIECE + 3 * 4096u) /* the last fill piece is short */

/* The byte at offset off of the test content. */
static unsigned char byte_at(uint64_t off, unsigned salt)
{
	return (unsigned char)(off * 131 + off / 4096 + salt);
}

/* Fill callback: the test content, checking that pieces come in order. */
static void fill(void *buf, uint64_t off, size_t len, void *arg)
{
	uint64_t *next = arg;
	CHECK(off == *next && len <= REMOTE_SIDE_FILL_PIECE);
	*next = off + len;
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = byte_at(off + i, 7);
}

/* 1 when buf holds the test content of [off, off + len). */
static int content_ok(const unsigned char *buf, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != byte_at(off + i, 7))
			return 0;
	return 1;
}

/* Serve one backend kind; check the fill, a client's view and a live change. */
static void serve_kind(const char *spec)
{
	struct err e = {0};
	uint64_t next = 0;
	struct nbd_server_opts so = {.chunk_size = 64 << 10}; /* server options pass through */
	struct remote_side_opts o = {.backend = spec, .size = SIZE, .fill = fill, .fill_arg = &next,
				     .addr = "127.0.0.1", .port = 0, .server = &so};
	struct remote_side *rs = remote_side_start(&o, &e);
	CHECK(rs != NULL);
	if (!rs) {
		fprintf(stderr, "%s: %s\n", spec ? spec : "memory", e.msg);
		return;
	}
	CHECK(next == SIZE);
	CHECK(remote_side_port(rs) > 0);
	unsigned char *buf = malloc(SIZE);
	CHECK(remote_side_read(rs, buf, SIZE, 0, &e) == 0 && content_ok(buf, 0, SIZE));
	if (remote_available()) {
		char uri[64];
		snprintf(uri, sizeof uri, "nbd://127.0.0.1:%d/", remote_side_port(rs));
		struct remote *c = remote_connect(uri, 1, &e);
		CHECK(c != NULL);
		if (c) {
			uint64_t off = SIZE - 8192;
			CHECK(remote_size(c) == SIZE);
			CHECK(remote_pread(c, buf, 8192, off, &e) == 0 && content_ok(buf, off, 8192));
			/* The remote copy changes under the live client. */
			memset(buf, 0x5a, 4096);
			CHECK(backend_write(remote_side_backend(rs), buf, 4096, 4096, &e) == 0);
			memset(buf, 0, 4096);
			CHECK(remote_pread(c, buf, 4096, 4096, &e) == 0 && buf[0] == 0x5a && buf[4095] == 0x5a);
			remote_close(c);
		}
		struct nbd_server_stats st;
		nbd_server_stats(remote_side_server(rs), &st);
		CHECK(st.reads >= 2);
	}
	free(buf);
	remote_side_stop(rs);
}

/* A bad spec or missing address is refused with a message naming it. */
static void bad_specs(void)
{
	struct err e = {0};
	struct remote_side_opts o = {.backend = "tape:/dev/st0", .size = SIZE, .addr = "127.0.0.1"};
	CHECK(remote_side_start(&o, &e) == NULL && strstr(e.msg, "tape:/dev/st0"));
	err_clear(&e);
	o.backend = "dir:/tmp/x:chunk=lots";
	CHECK(remote_side_start(&o, &e) == NULL && strstr(e.msg, "chunk"));
	err_clear(&e);
	o.backend = NULL;
	o.addr = NULL;
	CHECK(remote_side_start(&o, &e) == NULL && e.set);
}

int main(void)
{
	char dir[] = "/tmp/memsync-remote-side-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char file[128], chunks[128];
	snprintf(file, sizeof file, "file:%s/copy", dir);
	snprintf(chunks, sizeof chunks, "dir:%s/chunks:chunk=256k", dir);
	serve_kind(NULL);
	serve_kind("memory");
	serve_kind(file);
	serve_kind(chunks);
	bad_specs();
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return check_done();
}
