/*
 * test_nbd_server.c - the NBD server (approaches/common/nbd_server*.c)
 * driven by a raw protocol client over socketpairs: option haggling,
 * every command, pipelined requests, and bad input (bad magic, oversized
 * and out-of-range requests, huge options, mid-request disconnects)
 * which must be answered per the spec or close only that connection; a
 * write cut off mid-payload must leave the backend unchanged. Also a
 * connection over memory, the fuzz target's transport.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "nbd_proto.h"
#include "nbd_server.h"
#include "check.h"
#include "nbd_server_int.h"

#define SIZE (4u << 20)

/* Write all bytes (ignoring errors: the server may have closed). */
static int put(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes with a 5 s timeout; -1 on EOF/timeout. */
static int get(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len) {
		struct pollfd pfd = {fd, POLLIN, 0};
		if (poll(&pfd, 1, 5000) <= 0)
			return -1;
		ssize_t n = recv(fd, p, len, 0);
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Is the peer closed (EOF within 5 s)? */
static int closed(int fd)
{
	unsigned char b[256];
	for (;;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		if (poll(&pfd, 1, 5000) <= 0)
			return 0;
		ssize_t n = recv(fd, b, sizeof b, 0);
		if (n <= 0)
			return 1;
	}
}

/* A new connection to s; returns the client end. */
static int connect_to(struct nbd_server *s)
{
	int sv[2];
	struct err e = {0};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	if (nbd_server_serve_fd(s, sv[0], &e)) {
		fprintf(stderr, "%s\n", e.msg);
		close(sv[1]);
		return -1;
	}
	return sv[1];
}

/* Read the greeting and send client flags. */
static int greet(int fd)
{
	unsigned char b[18];
	if (get(fd, b, 18) || nbd_get64(b) != NBD_MAGIC || nbd_get64(b + 8) != NBD_OPTS_MAGIC)
		return -1;
	unsigned char f[4];
	nbd_put32(f, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	return put(fd, f, 4);
}

/* Send an option with data. */
static int send_option(int fd, uint32_t opt, const void *data, uint32_t len)
{
	unsigned char h[16];
	nbd_put64(h, NBD_OPTS_MAGIC);
	nbd_put32(h + 8, opt);
	nbd_put32(h + 12, len);
	return put(fd, h, 16) || (len && put(fd, data, len)) ? -1 : 0;
}

/* Read one option reply; data (up to cap) into data. Returns reply type or 0 on error. */
static uint32_t get_reply(int fd, uint32_t opt, unsigned char *data, size_t cap, uint32_t *len)
{
	unsigned char h[20];
	if (get(fd, h, 20) || nbd_get64(h) != NBD_REP_MAGIC || nbd_get32(h + 8) != opt)
		return 0;
	uint32_t l = nbd_get32(h + 16);
	unsigned char tmp[1024];
	if (!data) {
		data = tmp;
		cap = sizeof tmp;
	}
	if (l > cap || get(fd, data, l))
		return 0;
	if (len)
		*len = l;
	return nbd_get32(h + 12);
}

/* NBD_OPT_GO (optionally structured replies first); returns the export size or 0. */
static uint64_t go(int fd, int structured, const char *name)
{
	if (structured) {
		if (send_option(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0) ||
		    get_reply(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0, NULL) != NBD_REP_ACK)
			return 0;
	}
	unsigned char d[64];
	uint32_t nl = (uint32_t)strlen(name);
	nbd_put32(d, nl);
	memcpy(d + 4, name, nl);
	nbd_put16(d + 4 + nl, 1);
	nbd_put16(d + 6 + nl, NBD_INFO_BLOCK_SIZE);
	if (send_option(fd, NBD_OPT_GO, d, 8 + nl))
		return 0;
	uint64_t size = 0;
	for (;;) {
		unsigned char data[64];
		uint32_t len;
		uint32_t t = get_reply(fd, NBD_OPT_GO, data, sizeof data, &len);
		if (t == NBD_REP_ACK)
			return size;
		if (t != NBD_REP_INFO)
			return 0;
		if (nbd_get16(data) == NBD_INFO_EXPORT)
			size = nbd_get64(data + 2);
		if (nbd_get16(data) == NBD_INFO_BLOCK_SIZE)
			CHECK(nbd_get32(data + 2) == 1 && nbd_get32(data + 6) == 4096 && nbd_get32(data + 10) == NBD_MAX_REQUEST);
	}
}

/* Send one request header. */
static int request(int fd, uint16_t type, uint16_t flags, uint64_t handle, uint64_t off, uint32_t len)
{
	unsigned char b[NBD_REQUEST_LEN];
	nbd_put32(b, NBD_REQUEST_MAGIC);
	nbd_put16(b + 4, flags);
	nbd_put16(b + 6, type);
	nbd_put64(b + 8, handle);
	nbd_put64(b + 16, off);
	nbd_put32(b + 24, len);
	return put(fd, b, sizeof b);
}

/* Read a simple reply; returns the error or -1; *handle set. */
static int64_t simple_reply(int fd, uint64_t *handle)
{
	unsigned char b[16];
	if (get(fd, b, 16) || nbd_get32(b) != NBD_SIMPLE_REPLY_MAGIC)
		return -1;
	*handle = nbd_get64(b + 8);
	return nbd_get32(b + 4);
}

/* Fill with a pattern. */
static void fill(unsigned char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 31 + seed);
}

/* Options: list, unknown, malformed, TLS without TLS, unknown export. */
static void test_options(struct nbd_server *s)
{
	int fd = connect_to(s);
	CHECK(greet(fd) == 0);
	unsigned char d[64];
	uint32_t len;
	CHECK(send_option(fd, NBD_OPT_LIST, NULL, 0) == 0);
	CHECK(get_reply(fd, NBD_OPT_LIST, d, sizeof d, &len) == NBD_REP_SERVER && len == 4 + 4 && !memcmp(d + 4, "test", 4));
	CHECK(get_reply(fd, NBD_OPT_LIST, NULL, 0, NULL) == NBD_REP_ACK);
	CHECK(send_option(fd, 99, "xyz", 3) == 0);
	CHECK(get_reply(fd, 99, NULL, 0, NULL) == NBD_REP_ERR_UNSUP);
	CHECK(send_option(fd, NBD_OPT_INFO, "\0\0", 2) == 0);
	CHECK(get_reply(fd, NBD_OPT_INFO, NULL, 0, NULL) == NBD_REP_ERR_INVALID);
	CHECK(send_option(fd, NBD_OPT_STARTTLS, NULL, 0) == 0);
	CHECK(get_reply(fd, NBD_OPT_STARTTLS, NULL, 0, NULL) == NBD_REP_ERR_UNSUP);
	nbd_put32(d, 5);
	memcpy(d + 4, "other", 5);
	nbd_put16(d + 9, 0);
	CHECK(send_option(fd, NBD_OPT_GO, d, 11) == 0);
	CHECK(get_reply(fd, NBD_OPT_GO, NULL, 0, NULL) == NBD_REP_ERR_UNKNOWN);
	/* too long to accept, short enough to skip */
	unsigned char *big = calloc(1, 8000);
	CHECK(send_option(fd, NBD_OPT_GO, big, 8000) == 0);
	CHECK(get_reply(fd, NBD_OPT_GO, NULL, 0, NULL) == NBD_REP_ERR_TOO_BIG);
	free(big);
	CHECK(go(fd, 1, "test") == SIZE);
	close(fd);

	fd = connect_to(s); /* abort */
	CHECK(greet(fd) == 0 && send_option(fd, NBD_OPT_ABORT, NULL, 0) == 0);
	CHECK(get_reply(fd, NBD_OPT_ABORT, NULL, 0, NULL) == NBD_REP_ACK && closed(fd));
	close(fd);

	fd = connect_to(s); /* old-style EXPORT_NAME */
	CHECK(greet(fd) == 0 && send_option(fd, NBD_OPT_EXPORT_NAME, "", 0) == 0);
	CHECK(get(fd, d, 10) == 0 && nbd_get64(d) == SIZE);
	close(fd);
}

/* Commands, errors that keep the connection, pipelining. */
static void test_commands(struct nbd_server *s, int structured)
{
	int fd = connect_to(s);
	CHECK(greet(fd) == 0 && go(fd, structured, "") == SIZE);
	unsigned char *w = malloc(1 << 20), *r = malloc(1 << 20);
	uint64_t h;
	fill(w, 1 << 20, 7);
	CHECK(request(fd, NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, 1, 12345, 1 << 20) == 0 && put(fd, w, 1 << 20) == 0);
	CHECK(simple_reply(fd, &h) == 0 && h == 1);
	CHECK(request(fd, NBD_CMD_READ, 0, 2, 12345, 1 << 20) == 0);
	if (structured) {
		unsigned char b[28];
		CHECK(get(fd, b, 28) == 0 && nbd_get32(b) == NBD_STRUCTURED_REPLY_MAGIC);
		CHECK(nbd_get16(b + 4) == NBD_REPLY_FLAG_DONE && nbd_get16(b + 6) == NBD_REPLY_TYPE_OFFSET_DATA);
		CHECK(nbd_get64(b + 8) == 2 && nbd_get32(b + 16) == 8 + (1u << 20) && nbd_get64(b + 20) == 12345);
	} else {
		CHECK(simple_reply(fd, &h) == 0 && h == 2);
	}
	CHECK(get(fd, r, 1 << 20) == 0 && memcmp(w, r, 1 << 20) == 0);

	/* errors that must leave the connection usable */
	CHECK(request(fd, NBD_CMD_WRITE, 0, 3, SIZE - 10, 20) == 0 && put(fd, w, 20) == 0);
	CHECK(simple_reply(fd, &h) == NBD_ENOSPC && h == 3);
	CHECK(request(fd, NBD_CMD_WRITE, 0, 4, 0, NBD_MAX_REQUEST + 1) == 0);
	for (uint32_t sent = 0; sent < NBD_MAX_REQUEST + 1; sent += 1 << 20)
		put(fd, w, sent + (1u << 20) <= NBD_MAX_REQUEST + 1 ? 1 << 20 : NBD_MAX_REQUEST + 1 - sent);
	CHECK(simple_reply(fd, &h) == NBD_EINVAL && h == 4);
	CHECK(request(fd, 42, 0, 5, 0, 1) == 0);
	CHECK(simple_reply(fd, &h) == NBD_EINVAL && h == 5);
	CHECK(request(fd, NBD_CMD_FLUSH, 0, 6, 0, 0) == 0);
	CHECK(simple_reply(fd, &h) == 0 && h == 6);
	CHECK(request(fd, NBD_CMD_TRIM, 0, 7, 12345, 100) == 0);
	CHECK(simple_reply(fd, &h) == 0 && h == 7);
	CHECK(request(fd, NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_NO_HOLE, 8, 12445, 100) == 0);
	CHECK(simple_reply(fd, &h) == 0 && h == 8);
	if (!structured) {
		CHECK(request(fd, NBD_CMD_READ, 0, 9, SIZE, 1) == 0);
		CHECK(simple_reply(fd, &h) == NBD_EINVAL && h == 9);
		CHECK(request(fd, NBD_CMD_READ, 0, 10, 12345, 300) == 0);
		CHECK(simple_reply(fd, &h) == 0 && h == 10 && get(fd, r, 300) == 0);
		CHECK(r[0] == 0 && r[199] == 0 && r[200] == w[200]);
	} else {
		unsigned char b[26];
		CHECK(request(fd, NBD_CMD_READ, 0, 9, SIZE, 1) == 0);
		CHECK(get(fd, b, 26) == 0 && nbd_get16(b + 6) == NBD_REPLY_TYPE_ERROR && nbd_get32(b + 20) == NBD_EINVAL);
	}
	/* pipelined: 200 small writes and flushes in flight, all answered once */
	int seen[200] = {0};
	unsigned char *batch = malloc(200 * (NBD_REQUEST_LEN + 512)), *p = batch;
	for (int i = 0; i < 200; i++) {
		nbd_put32(p, NBD_REQUEST_MAGIC);
		nbd_put16(p + 4, 0);
		nbd_put16(p + 6, i % 2 ? NBD_CMD_WRITE : NBD_CMD_FLUSH);
		nbd_put64(p + 8, 100 + (uint64_t)i);
		nbd_put64(p + 16, i % 2 ? (uint64_t)i * 512 : 0);
		nbd_put32(p + 24, i % 2 ? 512 : 0);
		p += NBD_REQUEST_LEN;
		if (i % 2) {
			memcpy(p, w + i * 512, 512);
			p += 512;
		}
	}
	CHECK(put(fd, batch, (size_t)(p - batch)) == 0); /* one send: one recv on the server */
	free(batch);
	for (int i = 0; i < 200; i++) {
		if (simple_reply(fd, &h) != 0 || h < 100 || h >= 300 || seen[h - 100]++) {
			CHECK(!"pipelined reply wrong");
			break;
		}
	}
	CHECK(request(fd, NBD_CMD_DISC, 0, 11, 0, 0) == 0 && closed(fd));
	close(fd);
	free(w);
	free(r);
}

/* Bad input closes only the offending connection. */
static void test_bad_input(struct nbd_server *s)
{
	struct nbd_server_stats before, after;
	nbd_server_stats(s, &before);
	int keep = connect_to(s);
	CHECK(greet(keep) == 0 && go(keep, 0, "") == SIZE);

	int fd = connect_to(s); /* garbage instead of flags */
	unsigned char junk[128];
	memset(junk, 0xff, sizeof junk);
	CHECK(get(fd, junk, 18) == 0);
	put(fd, junk, sizeof junk);
	CHECK(closed(fd));
	close(fd);

	fd = connect_to(s); /* bad option magic */
	CHECK(greet(fd) == 0);
	put(fd, "NOTMAGIC12345678", 16);
	CHECK(closed(fd));
	close(fd);

	fd = connect_to(s); /* option length beyond what we skip */
	CHECK(greet(fd) == 0);
	unsigned char h[16];
	nbd_put64(h, NBD_OPTS_MAGIC);
	nbd_put32(h + 8, NBD_OPT_GO);
	nbd_put32(h + 12, 0xfffffff0u);
	put(fd, h, 16);
	CHECK(closed(fd));
	close(fd);

	fd = connect_to(s); /* bad request magic */
	CHECK(greet(fd) == 0 && go(fd, 0, "") == SIZE);
	put(fd, junk, 28);
	CHECK(closed(fd));
	close(fd);

	fd = connect_to(s); /* write too big to skip */
	CHECK(greet(fd) == 0 && go(fd, 0, "") == SIZE);
	request(fd, NBD_CMD_WRITE, 0, 1, 0, 0xffffffffu);
	CHECK(closed(fd));
	close(fd);

	fd = connect_to(s); /* disconnect in the middle of a write payload */
	CHECK(greet(fd) == 0 && go(fd, 0, "") == SIZE);
	request(fd, NBD_CMD_WRITE, 0, 1, 0, 65536);
	put(fd, junk, 100);
	close(fd);

	fd = connect_to(s); /* disconnect in the middle of a header */
	CHECK(greet(fd) == 0 && go(fd, 0, "") == SIZE);
	put(fd, junk, 7);
	close(fd);

	/* the well-behaved connection still works */
	uint64_t hd;
	unsigned char b[8];
	CHECK(request(keep, NBD_CMD_READ, 0, 77, 0, 8) == 0 && simple_reply(keep, &hd) == 0 && hd == 77 && get(keep, b, 8) == 0);
	close(keep);
	usleep(100000);
	nbd_server_stats(s, &after);
	CHECK(after.protocol_errors >= before.protocol_errors + 5);
}

/* Wait up to 2 s until the server's active connection count is want. */
static int active_becomes(struct nbd_server *s, uint64_t want)
{
	struct nbd_server_stats st;
	for (int i = 0; i < 200; i++) {
		nbd_server_stats(s, &st);
		if (st.connections_active == want)
			return 1;
		usleep(10000);
	}
	return 0;
}

/* A WRITE cut off by a disconnect leaves the backend as it was: not even
 * the part of the payload that arrived is applied (header and half the
 * payload in one send, and the header alone then half the payload). Each
 * case has a server of its own: freeing it joins the connection's thread,
 * so the backend is checked once the server is done with the stream. */
static void test_partial_write(struct backend *b, const struct nbd_server_opts *o)
{
	static const uint32_t lens[] = {1000, 65536, 1u << 20};
	struct err e = {0};
	for (size_t i = 0; i < 2 * sizeof lens / sizeof lens[0]; i++) {
		uint32_t len = lens[i / 2];
		uint64_t off = 4096 * (i + 1) + 7;
		unsigned char *before = malloc(len), *after = malloc(len), *msg = malloc(NBD_REQUEST_LEN + len);
		CHECK(backend_read(b, before, len, off, &e) == 0);
		for (uint32_t k = 0; k < len; k++)
			msg[NBD_REQUEST_LEN + k] = (unsigned char)~before[k]; /* differs at every byte */
		struct nbd_server *s = nbd_server_new(b, o, &e);
		int fd = connect_to(s);
		CHECK(greet(fd) == 0 && go(fd, 0, "") == SIZE);
		nbd_put32(msg, NBD_REQUEST_MAGIC);
		nbd_put16(msg + 4, 0);
		nbd_put16(msg + 6, NBD_CMD_WRITE);
		nbd_put64(msg + 8, 1);
		nbd_put64(msg + 16, off);
		nbd_put32(msg + 24, len);
		if (i % 2) {
			CHECK(put(fd, msg, NBD_REQUEST_LEN) == 0);
			usleep(20000); /* let the server read the header alone */
			CHECK(put(fd, msg + NBD_REQUEST_LEN, len / 2) == 0);
		} else {
			CHECK(put(fd, msg, NBD_REQUEST_LEN + len / 2) == 0);
		}
		close(fd);
		active_becomes(s, 0); /* the server saw the end of the stream (usually; free waits for sure) */
		struct nbd_server_stats st;
		nbd_server_stats(s, &st);
		nbd_server_free(s);
		CHECK(backend_read(b, after, len, off, &e) == 0);
		CHECK(memcmp(before, after, len) == 0);
		CHECK(st.writes == 0 && st.bytes_written == 0);
		free(before);
		free(after);
		free(msg);
	}
}

/* A connection counts as active only once its handshake has completed. */
static void test_active_count(struct nbd_server *s)
{
	struct nbd_server_stats st;
	nbd_server_stats(s, &st);
	uint64_t base = st.connections_active, accepted = st.connections;
	int fd = connect_to(s);
	CHECK(greet(fd) == 0);
	CHECK(send_option(fd, NBD_OPT_LIST, NULL, 0) == 0 && get_reply(fd, NBD_OPT_LIST, NULL, 0, NULL) == NBD_REP_SERVER);
	CHECK(get_reply(fd, NBD_OPT_LIST, NULL, 0, NULL) == NBD_REP_ACK);
	nbd_server_stats(s, &st);
	CHECK(st.connections == accepted + 1 && st.connections_active == base); /* still haggling */
	CHECK(go(fd, 0, "") == SIZE);
	CHECK(active_becomes(s, base + 1));
	CHECK(request(fd, NBD_CMD_DISC, 0, 1, 0, 0) == 0 && closed(fd));
	close(fd);
	CHECK(active_becomes(s, base));
	fd = connect_to(s); /* dropped in the handshake: never active */
	CHECK(greet(fd) == 0);
	close(fd);
	usleep(50000);
	nbd_server_stats(s, &st);
	CHECK(st.connections == accepted + 2 && st.connections_active == base);
}

/* Inline mode: small replies of a batch are sent before big read payloads. */
static void test_small_first(struct nbd_server *s)
{
	int fd = connect_to(s);
	CHECK(greet(fd) == 0 && go(fd, 0, "") == SIZE);
	unsigned char *big = malloc(1 << 20), small[4096], got[4096];
	fill(small, sizeof small, 9);
	/* one send: READ 1 MiB (1), WRITE 4 KiB (2), FLUSH (3), READ of that 4 KiB (4) */
	unsigned char req[4 * NBD_REQUEST_LEN + sizeof small], *p = req;
	const uint16_t types[4] = {NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_FLUSH, NBD_CMD_READ};
	const uint64_t offs[4] = {0, 2u << 20, 0, 2u << 20};
	const uint32_t lens[4] = {1u << 20, sizeof small, 0, sizeof small};
	for (int i = 0; i < 4; i++) {
		nbd_put32(p, NBD_REQUEST_MAGIC);
		nbd_put16(p + 4, 0);
		nbd_put16(p + 6, types[i]);
		nbd_put64(p + 8, (uint64_t)i + 1);
		nbd_put64(p + 16, offs[i]);
		nbd_put32(p + 24, lens[i]);
		p += NBD_REQUEST_LEN;
		if (types[i] == NBD_CMD_WRITE) {
			memcpy(p, small, sizeof small);
			p += sizeof small;
		}
	}
	CHECK(put(fd, req, (size_t)(p - req)) == 0);
	uint64_t h;
	CHECK(simple_reply(fd, &h) == 0 && h == 2);
	CHECK(simple_reply(fd, &h) == 0 && h == 3);
	CHECK(simple_reply(fd, &h) == 0 && h == 4 && get(fd, got, sizeof got) == 0 && !memcmp(got, small, sizeof got));
	CHECK(simple_reply(fd, &h) == 0 && h == 1 && get(fd, big, 1 << 20) == 0);
	close(fd);
	free(big);
}

/* Append an option (header and data) to a client stream at p. */
static unsigned char *put_option(unsigned char *p, uint32_t opt, const void *data, uint32_t len)
{
	nbd_put64(p, NBD_OPTS_MAGIC);
	nbd_put32(p + 8, opt);
	nbd_put32(p + 12, len);
	memcpy(p + 16, data, len);
	return p + 16 + len;
}

/* Append a request header to a client stream at p. */
static unsigned char *put_request(unsigned char *p, uint16_t type, uint64_t handle, uint64_t off, uint32_t len)
{
	nbd_put32(p, NBD_REQUEST_MAGIC);
	nbd_put16(p + 4, 0);
	nbd_put16(p + 6, type);
	nbd_put64(p + 8, handle);
	nbd_put64(p + 16, off);
	nbd_put32(p + 24, len);
	return p + NBD_REQUEST_LEN;
}

/* A connection over memory (the fuzz target's transport), on this thread:
 * a whole session writes and answers as over a socket; the same session
 * cut in the middle of the write's payload changes nothing. */
static void test_serve_memory(struct nbd_server *s, struct backend *b)
{
	struct err e = {0};
	unsigned char *in = malloc(8192 + 512), *p = in, data[4096], back[4096];
	static const unsigned char go_data[] = {0, 0, 0, 0, 0, 1, 0, NBD_INFO_BLOCK_SIZE};
	fill(data, sizeof data, 42);
	nbd_put32(p, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	p = put_option(p + 4, NBD_OPT_GO, go_data, sizeof go_data);
	p = put_request(p, NBD_CMD_WRITE, 1, 3 << 20, sizeof data);
	unsigned char *payload = p;
	memcpy(p, data, sizeof data);
	p = put_request(p + sizeof data, NBD_CMD_READ, 2, 3 << 20, sizeof data);
	p = put_request(p, NBD_CMD_DISC, 3, 0, 0);
	memset(back, 0, sizeof back);
	CHECK(backend_write(b, back, sizeof back, 3 << 20, &e) == 0);
	/* cut after half the payload: nothing is written, the greeting and GO replies went out */
	CHECK(nbd_server_serve_memory(s, in, (size_t)(payload - in) + sizeof data / 2) == 18 + 32 + 34 + 20);
	CHECK(backend_read(b, back, sizeof back, 3 << 20, &e) == 0);
	CHECK(back[0] == 0 && !memcmp(back, back + 1, sizeof back - 1));
	/* whole: written; greeting, GO, the write's reply, the read's reply and data */
	CHECK(nbd_server_serve_memory(s, in, (size_t)(p - in)) == 18 + 32 + 34 + 20 + 16 + 16 + sizeof data);
	CHECK(backend_read(b, back, sizeof back, 3 << 20, &e) == 0 && !memcmp(back, data, sizeof data));
	free(in);
}

/* Read-only server refuses writes with EPERM and advertises READ_ONLY. */
static void test_readonly(struct backend *b)
{
	struct err e = {0};
	struct nbd_server_opts o = {.readonly = 1, .workers = 2};
	struct nbd_server *s = nbd_server_new(b, &o, &e);
	int fd = connect_to(s);
	CHECK(greet(fd) == 0 && go(fd, 0, "") == SIZE);
	unsigned char data[10] = {0};
	uint64_t h;
	CHECK(request(fd, NBD_CMD_WRITE, 0, 1, 0, 10) == 0 && put(fd, data, 10) == 0);
	CHECK(simple_reply(fd, &h) == NBD_EPERM);
	CHECK(request(fd, NBD_CMD_TRIM, 0, 2, 0, 10) == 0 && simple_reply(fd, &h) == NBD_EPERM);
	close(fd);
	nbd_server_free(s);
}

/* Server-side chunking on a file backend and a UNIX listener. */
static void test_chunked_file(void)
{
	struct err e = {0};
	char path[] = "/tmp/memsync-srv.XXXXXX", spec[128], sock[160];
	int tfd = mkstemp(path);
	close(tfd);
	snprintf(spec, sizeof spec, "file:%s:%u", path, SIZE);
	struct backend *b = backend_open(spec, &e);
	struct nbd_server_opts o = {.chunk_size = 4096, .workers = 4};
	struct nbd_server *s = b ? nbd_server_new(b, &o, &e) : NULL;
	CHECK(s != NULL);
	if (!s)
		return;
	snprintf(sock, sizeof sock, "%s.sock", path);
	CHECK(nbd_server_listen(s, NULL, sock, &e) == 0);
	test_commands(s, 1);
	test_partial_write(b, &o);
	struct nbd_server_stats st;
	nbd_server_stats(s, &st);
	CHECK(st.bytes_written >= 1 << 20 && st.writes >= 65);
	nbd_server_free(s);
	backend_close(b);
	unlink(path);
	CHECK(access(sock, F_OK) != 0);
}

/* Run all tests. */
int main(void)
{
	struct err e = {0};
	log_verbose = 0;
	struct backend *b = backend_memory_new(SIZE, &e);
	struct nbd_server_opts o = {.export_name = "test", .workers = 4};
	struct nbd_server *s = nbd_server_new(b, &o, &e);
	if (!s) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	test_options(s);
	test_commands(s, 0);
	test_commands(s, 1);
	test_bad_input(s);
	test_active_count(s);
	test_serve_memory(s, b);
	nbd_server_free(s);
	test_partial_write(b, &o);
	/* the same on the inline (one thread, batched) mode */
	o.workers = 1;
	s = nbd_server_new(b, &o, &e);
	test_options(s);
	test_commands(s, 0);
	test_commands(s, 1);
	test_bad_input(s);
	test_active_count(s);
	test_small_first(s);
	test_serve_memory(s, b);
	nbd_server_free(s);
	test_partial_write(b, &o);
	test_readonly(b);
	struct nbd_server_opts bad = {.notsent_lowat = (int64_t)1 << 40};
	err_clear(&e);
	CHECK(nbd_server_new(b, &bad, &e) == NULL && strstr(e.msg, "notsent_lowat"));
	backend_close(b);
	test_chunked_file();
	return check_done();
}
