/*
 * test_nbd_proto.c - unit tests of the pure NBD codecs and request checks
 * (approaches/common/nbd_proto.c) and the chunk splitter (chunk.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "nbd_proto.h"
#include "check.h"

/* Build a request header. */
static void make_request(unsigned char *b, uint32_t magic, uint16_t flags, uint16_t type, uint64_t handle,
			 uint64_t off, uint32_t len)
{
	nbd_put32(b, magic);
	nbd_put16(b + 4, flags);
	nbd_put16(b + 6, type);
	nbd_put64(b + 8, handle);
	nbd_put64(b + 16, off);
	nbd_put32(b + 24, len);
}

/* Verdict for one request against a 1 MiB writable export. */
static enum nbd_req_verdict verdict(uint16_t type, uint16_t flags, uint64_t off, uint32_t len, uint32_t *err)
{
	struct nbd_request r = {.flags = flags, .type = type, .handle = 1, .offset = off, .length = len};
	uint16_t eflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
			  NBD_FLAG_SEND_WRITE_ZEROES;
	return nbd_check_request(&r, 1 << 20, eflags, 1, err);
}

/* Header decoding, including wrong magic. */
static void test_headers(void)
{
	unsigned char b[NBD_REQUEST_LEN];
	struct nbd_request r;
	make_request(b, NBD_REQUEST_MAGIC, 1, NBD_CMD_WRITE, 0x1122334455667788ull, 4096, 512);
	CHECK(nbd_parse_request(b, &r) == 0);
	CHECK(r.flags == 1 && r.type == NBD_CMD_WRITE && r.handle == 0x1122334455667788ull);
	CHECK(r.offset == 4096 && r.length == 512);
	make_request(b, 0xdeadbeef, 0, 0, 0, 0, 0);
	CHECK(nbd_parse_request(b, &r) == -1);

	unsigned char o[NBD_OPTION_HEADER_LEN];
	struct nbd_option opt;
	nbd_put64(o, NBD_OPTS_MAGIC);
	nbd_put32(o + 8, NBD_OPT_GO);
	nbd_put32(o + 12, 7);
	CHECK(nbd_parse_option(o, &opt) == 0 && opt.option == NBD_OPT_GO && opt.length == 7);
	o[0] ^= 1;
	CHECK(nbd_parse_option(o, &opt) == -1);

	unsigned char rep[NBD_OPTION_REPLY_LEN];
	nbd_encode_option_reply(rep, NBD_OPT_LIST, NBD_REP_ERR_UNSUP, 3);
	CHECK(nbd_get64(rep) == NBD_REP_MAGIC && nbd_get32(rep + 12) == NBD_REP_ERR_UNSUP && nbd_get32(rep + 16) == 3);
	unsigned char s[NBD_STRUCTURED_REPLY_LEN];
	nbd_encode_structured_reply(s, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 9, 6);
	CHECK(nbd_get32(s) == NBD_STRUCTURED_REPLY_MAGIC && nbd_get16(s + 6) == NBD_REPLY_TYPE_ERROR);
}

/* Request validation per the spec. */
static void test_check_request(void)
{
	uint32_t err;
	CHECK(verdict(NBD_CMD_READ, 0, 0, 4096, &err) == NBD_REQ_OK);
	CHECK(verdict(NBD_CMD_READ, 0, (1 << 20) - 1, 1, &err) == NBD_REQ_OK);
	CHECK(verdict(NBD_CMD_READ, 0, 1 << 20, 1, &err) == NBD_REQ_ERROR && err == NBD_EINVAL);
	CHECK(verdict(NBD_CMD_READ, 0, UINT64_MAX, 2, &err) == NBD_REQ_ERROR && err == NBD_EINVAL);
	CHECK(verdict(NBD_CMD_WRITE, 0, (1 << 20) - 10, 11, &err) == NBD_REQ_ERROR && err == NBD_ENOSPC);
	CHECK(verdict(NBD_CMD_WRITE_ZEROES, 0, 1 << 20, 1, &err) == NBD_REQ_ERROR && err == NBD_ENOSPC);
	CHECK(verdict(NBD_CMD_TRIM, 0, 1 << 20, 1, &err) == NBD_REQ_ERROR && err == NBD_EINVAL);
	CHECK(verdict(NBD_CMD_READ, 0, 0, 0, &err) == NBD_REQ_ERROR && err == NBD_EINVAL);
	CHECK(verdict(NBD_CMD_READ, 0, 0, NBD_MAX_REQUEST + 1, &err) == NBD_REQ_ERROR && err == NBD_EINVAL);
	CHECK(verdict(NBD_CMD_WRITE, 0, 0, NBD_MAX_REQUEST + 1, &err) == NBD_REQ_ERROR && err == NBD_EINVAL);
	CHECK(verdict(NBD_CMD_WRITE, 0, 0, 0xffffffffu, &err) == NBD_REQ_CLOSE);
	CHECK(verdict(NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, 0, 1, &err) == NBD_REQ_OK);
	CHECK(verdict(NBD_CMD_READ, NBD_CMD_FLAG_FUA, 0, 1, &err) == NBD_REQ_ERROR && err == NBD_EINVAL);
	CHECK(verdict(NBD_CMD_READ, NBD_CMD_FLAG_DF, 0, 1, &err) == NBD_REQ_OK);
	CHECK(verdict(NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_NO_HOLE, 0, 1 << 20, &err) == NBD_REQ_OK);
	CHECK(verdict(NBD_CMD_FLUSH, 0, 0, 0, &err) == NBD_REQ_OK);
	CHECK(verdict(NBD_CMD_FLUSH, 0, 1, 0, &err) == NBD_REQ_ERROR && err == NBD_EINVAL);
	CHECK(verdict(NBD_CMD_DISC, 0, 0, 0, &err) == NBD_REQ_OK);
	CHECK(verdict(NBD_CMD_BLOCK_STATUS, 0, 0, 1, &err) == NBD_REQ_ERROR && err == NBD_EINVAL);
	CHECK(verdict(77, 0, 0, 1, &err) == NBD_REQ_ERROR && err == NBD_EINVAL);

	struct nbd_request r = {.type = NBD_CMD_WRITE, .offset = 0, .length = 1};
	CHECK(nbd_check_request(&r, 4096, NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY, 0, &err) == NBD_REQ_ERROR &&
	      err == NBD_EPERM);
	r.type = NBD_CMD_READ;
	r.flags = NBD_CMD_FLAG_DF;
	CHECK(nbd_check_request(&r, 4096, NBD_FLAG_HAS_FLAGS, 0, &err) == NBD_REQ_ERROR); /* DF needs structured */
}

/* INFO/GO payload parsing, including every truncation. */
static void test_info_request(void)
{
	unsigned char d[64];
	char name[NBD_MAX_STRING + 1];
	int bs;
	nbd_put32(d, 3);
	memcpy(d + 4, "abc", 3);
	nbd_put16(d + 7, 2);
	nbd_put16(d + 9, NBD_INFO_NAME);
	nbd_put16(d + 11, NBD_INFO_BLOCK_SIZE);
	CHECK(nbd_parse_info_request(d, 13, name, sizeof name, &bs) == 0 && !strcmp(name, "abc") && bs == 1);
	for (uint32_t len = 0; len < 13; len++)
		CHECK(nbd_parse_info_request(d, len, name, sizeof name, &bs) == -1);
	CHECK(nbd_parse_info_request(d, 14, name, sizeof name, &bs) == -1); /* trailing byte */
	nbd_put32(d, 0xffffffffu);
	CHECK(nbd_parse_info_request(d, 13, name, sizeof name, &bs) == -1);
	nbd_put32(d, 0);
	nbd_put16(d + 4, 0);
	CHECK(nbd_parse_info_request(d, 6, name, sizeof name, &bs) == 0 && name[0] == '\0' && bs == 0);
	nbd_put32(d, 1);
	d[4] = '\0';
	nbd_put16(d + 5, 0);
	CHECK(nbd_parse_info_request(d, 7, name, sizeof name, &bs) == -1); /* NUL inside a name */
}

/* Chunk splitting stays aligned and covers the range exactly. */
static void test_chunks(void)
{
	struct chunk_iter it;
	uint64_t off, len, total = 0, n = 0, expect_off = 100;
	chunk_iter_init(&it, 100, 10000, 4096);
	while (chunk_next(&it, &off, &len)) {
		CHECK(off == expect_off);
		CHECK(len > 0 && (off % 4096) + len <= 4096);
		expect_off += len;
		total += len;
		n++;
	}
	CHECK(total == 10000 && n == chunk_count(100, 10000, 4096) && n == 3);
	CHECK(chunk_count(0, 0, 4096) == 0 && chunk_count(0, 4096, 4096) == 1 && chunk_count(1, 4096, 4096) == 2);
	CHECK(chunk_count(5, 100, 0) == 1);
	chunk_iter_init(&it, 0, 5, 0);
	CHECK(chunk_next(&it, &off, &len) == 1 && off == 0 && len == 5 && chunk_next(&it, &off, &len) == 0);
}

/* Run all tests. */
int main(void)
{
	test_headers();
	test_check_request();
	test_info_request();
	test_chunks();
	char buf[16];
	CHECK(!strcmp(nbd_cmd_name(NBD_CMD_TRIM, buf, sizeof buf), "TRIM"));
	CHECK(!strcmp(nbd_cmd_name(99, buf, sizeof buf), "CMD#99"));
	CHECK(nbd_errno_to_wire(12345) == NBD_EIO);
	return check_done();
}
