/*
 * delta_hash.c - chunk hashing (xxHash, zlib, GnuTLS's SHA-256, CRC32C) and
 * the parallel hasher.
 *
 * CRC32C uses the SSE4.2 `crc32` instruction (8 bytes per step) when cpuid
 * says the CPU has it, checked once at run time; elsewhere a 256-entry table
 * built on first use.
 */
#include "delta_hash.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>
#include <zlib.h>
#ifdef MEMSYNC_HAVE_GNUTLS
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#endif

#define CRC32C_POLY 0x82f63b78u /* Castagnoli, bit-reflected */

static const char *const algo_names[] = {NULL, "xxh3", "xxh128", "xxh64", "crc32", "adler32", "sha256", "crc32c"};

static uint32_t crc32c_tab[256];
static int crc32c_hw;
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

/* Build the CRC32C table and look for SSE4.2 (once). */
static void crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_tab[i] = c;
	}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
}

/* CRC32C with the table. */
uint32_t delta_crc32c_table(const void *p, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
	const uint8_t *b = p;
	uint32_t c = ~0u;
	while (len--)
		c = crc32c_tab[(c ^ *b++) & 0xff] ^ (c >> 8);
	return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* CRC32C with the SSE4.2 instruction (called only when cpuid has it). */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t c = ~0u;
	for (; len >= 8; b += 8, len -= 8) {
		uint64_t v;
		memcpy(&v, b, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = __builtin_ia32_crc32qi(c32, *b++);
	return ~c32;
}
#endif

/* CRC32C: the instruction where the CPU has it, else the table. */
uint32_t delta_crc32c(const void *p, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (crc32c_hw)
		return crc32c_sse42(p, len);
#endif
	return delta_crc32c_table(p, len);
}

/* 1 when this build computes the algorithm. */
int delta_algo_available(unsigned algo)
{
#ifndef MEMSYNC_HAVE_GNUTLS
	if (algo == DELTA_SHA256)
		return 0;
#endif
	return algo >= 1 && algo <= DELTA_ALGO_MAX;
}

/* Which implementation computes an algorithm here. */
const char *delta_algo_impl(unsigned algo)
{
	if (!delta_algo_available(algo))
		return "unavailable";
	switch (algo) {
	case DELTA_CRC32: case DELTA_ADLER32: return "zlib";
	case DELTA_SHA256: return "gnutls";
	case DELTA_CRC32C:
		pthread_once(&crc32c_once, crc32c_init);
		return crc32c_hw ? "sse4.2" : "table";
	default: return "libxxhash";
	}
}

/* Algorithm by name; 0 if unknown or not in this build. */
unsigned delta_algo_parse(const char *name)
{
	for (unsigned a = 1; a <= DELTA_ALGO_MAX; a++)
		if (!strcasecmp(name, algo_names[a]))
			return delta_algo_available(a) ? a : 0;
	return 0;
}

/* Name of an algorithm. */
const char *delta_algo_name(unsigned algo)
{
	return algo >= 1 && algo <= DELTA_ALGO_MAX ? algo_names[algo] : "?";
}

/* Hash one buffer (an algorithm this build lacks gives all zeros). */
void delta_hash(unsigned algo, const void *p, size_t len, delta_hash_t *out)
{
	memset(out, 0, sizeof *out);
	switch (algo) {
	case DELTA_XXH3: {
		XXH64_hash_t h = XXH3_64bits(p, len);
		memcpy(out->b, &h, 8);
		break;
	}
	case DELTA_XXH128: {
		XXH128_hash_t h = XXH3_128bits(p, len);
		memcpy(out->b, &h.low64, 8);
		memcpy(out->b + 8, &h.high64, 8);
		break;
	}
	case DELTA_XXH64: {
		XXH64_hash_t h = XXH64(p, len, 0);
		memcpy(out->b, &h, 8);
		break;
	}
	case DELTA_CRC32: {
		uint32_t h = (uint32_t)crc32_z(crc32(0, NULL, 0), p, len);
		memcpy(out->b, &h, 4);
		break;
	}
	case DELTA_ADLER32: {
		uint32_t h = (uint32_t)adler32_z(adler32(0, NULL, 0), p, len);
		memcpy(out->b, &h, 4);
		break;
	}
	case DELTA_CRC32C: {
		uint32_t h = delta_crc32c(p, len);
		memcpy(out->b, &h, 4);
		break;
	}
#ifdef MEMSYNC_HAVE_GNUTLS
	case DELTA_SHA256:
		gnutls_hash_fast(GNUTLS_DIG_SHA256, p, len, out->b);
		break;
#endif
	}
}

struct hash_job {
	unsigned algo;
	const uint8_t *base;
	uint64_t size, first, n;
	uint32_t chunk;
	delta_hash_t *out;
};

/* Worker: hash a contiguous run of chunks. */
static void *hash_worker(void *arg)
{
	struct hash_job *j = arg;
	for (uint64_t i = 0; i < j->n; i++) {
		uint64_t off = (j->first + i) * j->chunk;
		uint64_t len = j->size - off < j->chunk ? j->size - off : j->chunk;
		delta_hash(j->algo, j->base + off, len, &j->out[i]);
	}
	return NULL;
}

/* Hash chunks in parallel (the calling thread is one of the workers). */
int delta_hash_chunks(unsigned algo, const uint8_t *base, uint64_t size, uint32_t chunk, uint64_t first, uint64_t n,
		      unsigned workers, delta_hash_t *out)
{
	if (workers < 1)
		workers = 1;
	if (workers > 64)
		workers = 64;
	if (n < workers * 4ull)
		workers = 1;
	struct hash_job jobs[64];
	pthread_t th[64];
	uint64_t per = n / workers, extra = n % workers, at = first;
	unsigned started = 0;
	for (unsigned w = 0; w < workers; w++) {
		uint64_t cnt = per + (w < extra);
		jobs[w] = (struct hash_job){algo, base, size, at, cnt, chunk, out + (at - first)};
		at += cnt;
		pthread_t t;
		if (w > 0) {
			if (pthread_create(&t, NULL, hash_worker, &jobs[w]))
				hash_worker(&jobs[w]);
			else
				th[started++] = t;
		}
	}
	hash_worker(&jobs[0]);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return 0;
}
