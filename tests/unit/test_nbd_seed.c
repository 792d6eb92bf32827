/*
 * test_nbd_seed.c - the parts of the nbd approach that need no kernel NBD
 * client, in this process:
 *   - the client half of the NBD handshake (nbd_mount.c) against memsync's
 *     server over a socketpair, as the kernel's sockets get it: the export's
 *     size and flags, multi-conn included;
 *   - seeding from a leecher, the two-hop migration A -> B -> C -> D at the
 *     level of the engines: B is a managed engine over A (the remote copy),
 *     tracked and served by an NBD server like the nbd seeder; C pulls from
 *     B while B is written; the dirty list goes to C (track/take/invalidate,
 *     the sequence of nbd_migrate.c); C equals B; then C seeds D, which
 *     equals B too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "check.h"
#include "managed.h"
#include "nbd_mount.h"
#include "nbd_proto.h"
#include "nbd_server.h"
#include "remote.h"

#define SIZE (8u << 20)
#define CHUNK (64u << 10)

static char dir[] = "/tmp/memsync-nbd-seed.XXXXXX";

/* The handshake the kernel's sockets go through. */
static void test_handshake(void)
{
	struct err e = {0};
	struct backend *b = backend_memory_new(SIZE, &e);
	struct nbd_server *s = b ? nbd_server_new(b, NULL, &e) : NULL;
	CHECK(s != NULL);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(nbd_server_serve_fd(s, sv[0], &e) == 0);
	uint64_t size = 0;
	uint16_t flags = 0;
	CHECK(nbd_client_handshake(sv[1], &size, &flags, &e) == 0);
	CHECK(size == SIZE);
	CHECK(flags & NBD_FLAG_HAS_FLAGS);
	CHECK(flags & NBD_FLAG_CAN_MULTI_CONN);
	CHECK(flags & NBD_FLAG_SEND_FLUSH);
	CHECK(!(flags & NBD_FLAG_READ_ONLY));
	/* One read in the transmission phase works on the socket. */
	unsigned char req[NBD_REQUEST_LEN] = {0}, rep[NBD_SIMPLE_REPLY_LEN];
	nbd_put32(req, NBD_REQUEST_MAGIC);
	nbd_put16(req + 6, NBD_CMD_READ);
	nbd_put64(req + 8, 42);
	nbd_put32(req + 24, 4096);
	unsigned char data[4096];
	CHECK(write(sv[1], req, sizeof req) == (ssize_t)sizeof req);
	CHECK(recv(sv[1], rep, sizeof rep, MSG_WAITALL) == (ssize_t)sizeof rep);
	CHECK(nbd_get32(rep) == NBD_SIMPLE_REPLY_MAGIC && nbd_get32(rep + 4) == 0 && nbd_get64(rep + 8) == 42);
	CHECK(recv(sv[1], data, sizeof data, MSG_WAITALL) == (ssize_t)sizeof data);
	close(sv[1]);
	/* A server that is not fixed newstyle: a clear error. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(write(sv[0], "NBDMAGIC\0\0\0\0\0\0\0\0\0\0", 18) == 18);
	struct err bad = {0};
	CHECK(nbd_client_handshake(sv[1], &size, &flags, &bad) == -1 && strstr(bad.msg, "newstyle"));
	close(sv[0]);
	close(sv[1]);
	nbd_server_free(s);
	backend_close(b);
}

/* A hop: an engine pulling from the server on sock, served on sock_out (NULL: not served). */
struct hop {
	struct remote *rm;
	struct managed *mg;
	struct backend *b;
	struct nbd_server *srv;
};

/* Start a hop pulling from the UNIX socket in, serving on out. */
static int hop_start(struct hop *h, const char *in, const char *out, struct err *e)
{
	char uri[256];
	snprintf(uri, sizeof uri, "nbd+unix:///?socket=%s", in);
	struct managed_opts o = {.chunk_size = CHUNK, .pull_inflight = 8};
	if (!(h->rm = remote_connect(uri, 2, e)) || !(h->mg = managed_new(h->rm, &o, e)) ||
	    !(h->b = managed_backend_new(h->mg, e)))
		return -1;
	if (!out)
		return 0;
	struct nbd_server_opts so = {.workers = 4, .readonly = 1};
	if (!(h->srv = nbd_server_new(h->b, &so, e)))
		return -1;
	return nbd_server_listen(h->srv, NULL, out, e);
}

/* Stop a hop. */
static void hop_stop(struct hop *h)
{
	if (h->srv)
		nbd_server_free(h->srv);
	backend_close(h->b);
	if (h->mg)
		managed_close(h->mg);
	if (h->rm)
		remote_close(h->rm);
}

/* Does the engine's content equal ref? */
static int same(struct managed *m, const unsigned char *ref)
{
	unsigned char *buf = malloc(SIZE);
	struct err e = {0};
	int ok = buf && managed_read(m, buf, SIZE, 0, &e) == 0 && !memcmp(buf, ref, SIZE);
	free(buf);
	return ok;
}

/* A -> B -> C, writes on B during C's pull, the dirty list, then C -> D. */
static void test_two_hops(void)
{
	struct err e = {0};
	char sa[300], sb[300], sc[300];
	snprintf(sa, sizeof sa, "%s/a.sock", dir);
	snprintf(sb, sizeof sb, "%s/b.sock", dir);
	snprintf(sc, sizeof sc, "%s/c.sock", dir);
	struct backend *a = backend_memory_new(SIZE, &e);
	unsigned char *ref = malloc(SIZE);
	CHECK(a && ref);
	for (size_t i = 0; i < SIZE; i++)
		ref[i] = (unsigned char)(i * 131 >> 9);
	memcpy(backend_base(a), ref, SIZE);
	struct nbd_server *sa_srv = nbd_server_new(a, NULL, &e);
	CHECK(sa_srv && nbd_server_listen(sa_srv, NULL, sa, &e) == 0);
	struct hop b = {0}, c = {0}, d = {0};
	CHECK(hop_start(&b, sa, sb, &e) == 0);
	managed_track_start(b.mg); /* the seeder tracks from the start */
	CHECK(hop_start(&c, sb, sc, &e) == 0);
	/* The writer on B while C pulls. */
	for (int i = 0; i < 64; i++) {
		uint64_t off = (uint64_t)(i * 7919 % (SIZE / 4096)) * 4096;
		memset(ref + off, i + 1, 4096);
		CHECK(managed_write(b.mg, ref + off, 4096, off, &e) == 0);
	}
	CHECK(managed_wait_pulled(c.mg, 20000, &e) == 0);
	/* Finalize: the writer stopped; hand over the dirty list. */
	size_t n = 0;
	uint64_t *dirty = managed_track_take(b.mg, &n, &e);
	CHECK(dirty != NULL && n > 0 && n <= 64);
	CHECK(managed_invalidate(c.mg, dirty, n, &e) == 0);
	free(dirty);
	CHECK(same(c.mg, ref));
	/* C, a leecher, seeds the next hop. */
	CHECK(hop_start(&d, sc, NULL, &e) == 0);
	CHECK(managed_wait_pulled(d.mg, 20000, &e) == 0);
	CHECK(same(d.mg, ref));
	if (e.set)
		fprintf(stderr, "error: %s\n", e.msg);
	hop_stop(&d);
	hop_stop(&c);
	hop_stop(&b);
	nbd_server_free(sa_srv);
	backend_close(a);
	free(ref);
}

int main(void)
{
	if (!remote_available()) {
		printf("SKIP: built without libnbd\n");
		return 77;
	}
	if (!mkdtemp(dir))
		return 1;
	test_handshake();
	test_two_hops();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_done();
}
