/*
 * test_delta_common.h - helpers shared by the delta engine's unit tests:
 * reproducible pseudo-random bytes and a byte-for-byte check of a store.
 */
#ifndef MEMSYNC_TEST_DELTA_COMMON_H
#define MEMSYNC_TEST_DELTA_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta_engine.h"

/* Pseudo-random bytes (xorshift64) from a seed. */
static inline void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* Does the store hold exactly buf[0..size)? */
static inline int store_equals(struct delta_store *s, const uint8_t *buf, uint64_t size)
{
	uint8_t *tmp = malloc(size ? size : 1);
	struct err e = {0};
	int ok = s->size == size && (size == 0 || delta_store_read(s, tmp, size, 0, &e) == 0) && !memcmp(tmp, buf, size);
	if (!ok)
		fprintf(stderr, "store differs (size %llu vs %llu) %s\n", (unsigned long long)s->size,
			(unsigned long long)size, e.msg);
	free(tmp);
	return ok;
}

#endif
