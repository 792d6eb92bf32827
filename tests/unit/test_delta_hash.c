/*
 * test_delta_hash.c - every chunk hash of the delta approach against a
 * published test vector, the CRC32C instruction path against the table,
 * the algorithm names and hash lengths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "delta_hash.h"

/* Does the hash of s under algo equal the hex string want (byte order as stored)? */
static int hash_is(unsigned algo, const char *s, const char *want)
{
	delta_hash_t h;
	delta_hash(algo, s, strlen(s), &h);
	char hex[2 * DELTA_MAX_HASH + 1] = "";
	for (unsigned i = 0; i < delta_hash_len(algo); i++)
		snprintf(hex + 2 * i, 3, "%02x", h.b[i]);
	if (strcmp(hex, want))
		fprintf(stderr, "%s(\"%s\") = %s, want %s\n", delta_algo_name(algo), s, hex, want);
	return !strcmp(hex, want);
}

/* Little-endian hex of a 32- or 64-bit value, as delta_hash stores it. */
static const char *le_hex(uint64_t v, unsigned bytes, char *out)
{
	for (unsigned i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", (unsigned)(v >> (8 * i)) & 0xff);
	return out;
}

int main(void)
{
	char b[40];
	/* CRC-32 and Adler-32 check values (the "123456789" of the CRC catalogues). */
	CHECK(hash_is(DELTA_CRC32, "123456789", le_hex(0xcbf43926u, 4, b)));
	CHECK(hash_is(DELTA_ADLER32, "123456789", le_hex(0x091e01deu, 4, b)));
	CHECK(hash_is(DELTA_CRC32C, "123456789", le_hex(0xe3069283u, 4, b)));
	CHECK(delta_crc32c("123456789", 9) == 0xe3069283u);
	CHECK(delta_crc32c_table("123456789", 9) == 0xe3069283u);
	CHECK(delta_crc32c("", 0) == 0 && delta_crc32c_table("", 0) == 0);
	/* xxHash of the empty input (the reference implementation's sanity values). */
	CHECK(hash_is(DELTA_XXH64, "", le_hex(0xef46db3751d8e999ull, 8, b)));
	CHECK(hash_is(DELTA_XXH3, "", le_hex(0x2d06800538d394c2ull, 8, b)));
	char x128[33];
	le_hex(0x6001c324468d497full, 8, x128);
	le_hex(0x99aa06d3014798d8ull, 8, x128 + 16);
	CHECK(hash_is(DELTA_XXH128, "", x128));
	if (delta_algo_available(DELTA_SHA256)) {
		/* FIPS 180-2 examples. */
		CHECK(hash_is(DELTA_SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
		CHECK(hash_is(DELTA_SHA256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	} else {
		CHECK(delta_algo_parse("sha256") == 0);
		printf("sha256: not in this build (no GnuTLS)\n");
	}
	/* The instruction path (when the CPU has it) and the table agree at
	 * every length and alignment around the 8-byte steps. */
	uint8_t *buf = malloc(4096 + 16);
	for (unsigned i = 0; i < 4096 + 16; i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 7));
	int agree = 1;
	for (unsigned off = 0; off < 8; off++)
		for (unsigned len = 0; len < 4096; len += len < 64 ? 1 : 509)
			agree &= delta_crc32c(buf + off, len) == delta_crc32c_table(buf + off, len);
	CHECK(agree);
	free(buf);
	printf("crc32c: %s\n", delta_algo_impl(DELTA_CRC32C));
	/* Names round-trip, lengths fit a delta_hash_t. */
	for (unsigned a = 1; a <= DELTA_ALGO_MAX; a++) {
		CHECK(delta_hash_len(a) >= 4 && delta_hash_len(a) <= DELTA_MAX_HASH);
		if (delta_algo_available(a))
			CHECK(delta_algo_parse(delta_algo_name(a)) == a);
	}
	CHECK(delta_hash_len(DELTA_SHA256) == 32 && delta_hash_len(DELTA_CRC32C) == 4);
	CHECK(delta_algo_parse("md5") == 0 && delta_hash_len(DELTA_ALGO_MAX + 1) == 0);
	return check_done();
}
