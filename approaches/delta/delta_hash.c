/*
 * delta_hash.c - chunk hashing (xxHash and zlib) and the parallel hasher.
 */
#include "delta_hash.h"

#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>
#include <zlib.h>

static const char *const algo_names[] = {NULL, "xxh3", "xxh128", "xxh64", "crc32", "adler32"};

/* Algorithm by name; 0 if unknown. */
unsigned delta_algo_parse(const char *name)
{
	for (unsigned a = 1; a <= DELTA_ALGO_MAX; a++)
		if (!strcasecmp(name, algo_names[a]))
			return a;
	return 0;
}

/* Name of an algorithm. */
const char *delta_algo_name(unsigned algo)
{
	return algo >= 1 && algo <= DELTA_ALGO_MAX ? algo_names[algo] : "?";
}

/* Hash one buffer. */
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
