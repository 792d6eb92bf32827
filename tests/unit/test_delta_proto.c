/*
 * test_delta_proto.c - the delta protocol's encoders and parser: round
 * trips, truncated frames, caps, wrong version and malformed payloads.
 */
#include <string.h>

#include "check.h"
#include "delta_proto.h"

/* Parse a buffer expecting result `want`. */
static int parse(const uint8_t *b, size_t n, struct delta_msg *m, const char **why)
{
	size_t used = 0;
	*why = "";
	return delta_parse(b, n, m, &used, why);
}

int main(void)
{
	uint8_t b[2 * DELTA_MAX_PAYLOAD];
	struct delta_msg m;
	const char *why;
	size_t n, used;

	/* Round trips. */
	n = delta_enc_hello(b, 1 << 30, 65536, DELTA_XXH3, 0, 0640, 42);
	CHECK(delta_parse(b, n, &m, &used, &why) == 1 && used == n);
	CHECK(m.type == DELTA_HELLO && m.u.hello.size == 1 << 30 && m.u.hello.chunk == 65536 && m.u.hello.session == 42);
	CHECK(m.u.hello.fmode == 0640);
	n = delta_enc_reply(b, 8192 + 1, 4096, DELTA_CRC32, 0, 3);
	CHECK(parse(b, n, &m, &why) == 1 && m.u.reply.nchunks == 3);
	n = delta_enc_reply(b, 8192, 4096, DELTA_CRC32, 0, 3);
	CHECK(parse(b, n, &m, &why) == -1); /* count does not match the size */
	n = delta_enc_begin(b, 7, 12345);
	CHECK(parse(b, n, &m, &why) == 1 && m.u.begin.cycle == 7 && m.u.begin.size == 12345);
	n = delta_enc_chunk(b, 4096, 100);
	memset(b + n, 0xab, 100);
	CHECK(parse(b, n + 100, &m, &why) == 1 && m.u.chunk.off == 4096 && m.u.chunk.len == 100 && m.u.chunk.data[99] == 0xab);
	CHECK(parse(b, n + 99, &m, &why) == 0);  /* truncated: need more */
	CHECK(parse(b, 5, &m, &why) == 0);
	n = delta_enc_end(b, 7, 1, 100);
	CHECK(parse(b, n, &m, &why) == 1 && m.u.end.nchunks == 1 && m.u.end.bytes == 100);
	n = delta_enc_ack(b, 7, 0);
	CHECK(parse(b, n, &m, &why) == 1 && m.u.ack.cycle == 7);
	n = delta_enc_hashes(b, 0, 2, 8);
	memset(b + n, 1, 16);
	CHECK(parse(b, n + 16, &m, &why) == 1 && m.u.hashes.count == 2 && m.u.hashes.hash_len == 8);
	n = delta_enc_error(b, 3, 5);
	memcpy(b + n, "hello", 5);
	CHECK(parse(b, n + 5, &m, &why) == 1 && m.u.error.len == 5 && !memcmp(m.u.error.text, "hello", 5));
	n = delta_enc_bye(b);
	CHECK(parse(b, n, &m, &why) == 1 && m.type == DELTA_BYE);

	/* Malformed headers. */
	n = delta_enc_bye(b);
	b[0] ^= 1;
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "magic"));
	n = delta_enc_bye(b);
	b[4] = 2;
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "version"));
	n = delta_enc_bye(b);
	b[5] = 0;
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "type"));
	b[5] = 99;
	CHECK(parse(b, n, &m, &why) == -1);
	n = delta_enc_bye(b);
	b[6] = 1;
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "flags"));
	/* Oversized: a CHUNK frame claiming more than the cap, a fixed frame with the wrong length. */
	n = delta_enc_chunk(b, 0, DELTA_MAX_CHUNK + 1);
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "length"));
	n = delta_enc_chunk(b, 0, 16);
	b[8] = 0xff, b[9] = 0xff, b[10] = 0xff, b[11] = 0xff;
	CHECK(parse(b, n, &m, &why) == -1);
	n = delta_enc_ack(b, 1, 0);
	b[8] = 15;
	CHECK(parse(b, n, &m, &why) == -1);
	/* Malformed payloads. */
	n = delta_enc_hello(b, 1 << 20, 3000, DELTA_XXH3, 0, 0, 1);
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "chunk"));
	n = delta_enc_hello(b, 1 << 20, 4096, 9, 0, 0, 1);
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "hash"));
	n = delta_enc_hello(b, 1 << 20, 4096, DELTA_XXH3, 5, 0, 1);
	CHECK(parse(b, n, &m, &why) == -1);
	n = delta_enc_hello(b, 1 << 20, 4096, DELTA_XXH3, 0, 04755, 1); /* only permission bits travel */
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "file mode"));
	n = delta_enc_hello(b, DELTA_MAX_SIZE + 1, 4096, DELTA_XXH3, 0, 0, 1);
	CHECK(parse(b, n, &m, &why) == -1);
	n = delta_enc_chunk(b, 0, 100);
	b[DELTA_HDR_LEN + 8] = 99; /* inner length differs from the frame's */
	CHECK(parse(b, n + 100, &m, &why) == -1);
	n = delta_enc_chunk(b, DELTA_MAX_SIZE - 10, 100);
	CHECK(parse(b, n + 100, &m, &why) == -1);
	n = delta_enc_hashes(b, 0, 3, 8);
	CHECK(parse(b, n + 16, &m, &why) == -1 || parse(b, n + 16, &m, &why) == 0);
	n = delta_enc_hashes(b, 0, 2, DELTA_MAX_HASH + 1);
	CHECK(parse(b, n + 2 * (DELTA_MAX_HASH + 1), &m, &why) == -1);
	n = delta_enc_hashes(b, 0, 2, 32); /* SHA-256 */
	memset(b + n, 0x11, 64);
	CHECK(parse(b, n + 64, &m, &why) == 1 && m.u.hashes.hash_len == 32 && m.u.hashes.hashes[63] == 0x11);
	n = delta_enc_error(b, 1, 300);
	CHECK(parse(b, n + 300, &m, &why) == -1);
	n = delta_enc_error(b, 1, 10);
	b[DELTA_HDR_LEN + 4] = 9;
	CHECK(parse(b, n + 10, &m, &why) == -1);
	/* Two frames back to back parse one at a time. */
	n = delta_enc_begin(b, 1, 4096);
	size_t n2 = delta_enc_end(b + n, 1, 0, 0);
	CHECK(delta_parse(b, n + n2, &m, &used, &why) == 1 && used == n && m.type == DELTA_BEGIN);
	CHECK(delta_parse(b + used, n2, &m, &used, &why) == 1 && m.type == DELTA_END);
	/* Hash lengths. */
	CHECK(delta_hash_len(DELTA_XXH128) == 16 && delta_hash_len(DELTA_CRC32) == 4 && delta_hash_len(0) == 0);
	CHECK(delta_hash_len(DELTA_SHA256) == 32 && delta_hash_len(DELTA_CRC32C) == 4);
	n = delta_enc_hello(b, 1 << 20, 16384, DELTA_SHA256, DELTA_MODE_CDC, 0, 1);
	CHECK(parse(b, n, &m, &why) == 1 && m.u.hello.mode == DELTA_MODE_CDC && m.u.hello.algo == DELTA_SHA256);
	n = delta_enc_hello(b, 1 << 20, 1 << 20, DELTA_XXH3, DELTA_MODE_CDC, 0, 1); /* CDC average above 256k */
	CHECK(parse(b, n, &m, &why) == -1);
	n = delta_enc_hello(b, 1 << 20, 4096, DELTA_XXH3, DELTA_MODE_CDC + 1, 0, 1);
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "mode"));
	/* RECIPE: (length, hash) entries; lengths 1..1 MiB, count matches the payload. */
	n = delta_enc_recipe(b, 5, 2, 8);
	n += delta_enc_recipe_entry(b + n, 4000, (const uint8_t *)"abcdefgh", 8);
	n += delta_enc_recipe_entry(b + n, 1, (const uint8_t *)"ABCDEFGH", 8);
	CHECK(parse(b, n, &m, &why) == 1 && m.type == DELTA_RECIPE && m.u.recipe.first == 5 && m.u.recipe.count == 2);
	const uint8_t *h;
	CHECK(delta_recipe_entry(&m, 0, &h) == 4000 && !memcmp(h, "abcdefgh", 8));
	CHECK(delta_recipe_entry(&m, 1, &h) == 1 && !memcmp(h, "ABCDEFGH", 8));
	CHECK(parse(b, n - 1, &m, &why) == 0);
	b[DELTA_HDR_LEN + 16 + 12] = 0; /* second entry's length 0 */
	b[DELTA_HDR_LEN + 16 + 13] = 0;
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "length"));
	n = delta_enc_recipe(b, 0, 1, 4);
	n += delta_enc_recipe_entry(b + n, DELTA_MAX_CHUNK + 1, (const uint8_t *)"abcd", 4);
	CHECK(parse(b, n, &m, &why) == -1);
	n = delta_enc_recipe(b, 0, 3, 4); /* says 3 entries, carries 0 */
	b[DELTA_HDR_LEN - 4] = 16;
	b[DELTA_HDR_LEN - 3] = 0;
	CHECK(parse(b, n, &m, &why) == -1);
	n = delta_enc_recipe(b, 0, 0, 0);
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "hash length"));
	/* WANT: u32 indexes and the last flag. */
	n = delta_enc_want(b, 3, 1);
	for (uint32_t i = 0; i < 3; i++)
		delta_enc_u32(b + n + 4 * i, 10 * i + 7);
	CHECK(parse(b, n + 12, &m, &why) == 1 && m.type == DELTA_WANT && m.u.want.count == 3 && m.u.want.last == 1);
	CHECK(delta_want_index(&m, 0) == 7 && delta_want_index(&m, 2) == 27);
	n = delta_enc_want(b, 0, 2);
	CHECK(parse(b, n, &m, &why) == -1 && strstr(why, "last"));
	n = delta_enc_want(b, 0, 0);
	CHECK(parse(b, n, &m, &why) == 1 && m.u.want.count == 0 && m.u.want.last == 0);
	return check_done();
}
