/*
 * pattern.h - known content for the unit tests of the remote region: a
 * byte for every offset and seed, so any range can be filled and checked
 * without keeping a copy.
 */
#ifndef MEMSYNC_TEST_PATTERN_H
#define MEMSYNC_TEST_PATTERN_H

#include <stddef.h>
#include <stdint.h>

/* Pattern byte for an offset and seed. */
static inline unsigned char pat(uint64_t off, unsigned seed)
{
	return (unsigned char)((off * 2654435761u >> 11) + seed);
}

/* Fill buf as if it lived at off. */
static inline void fill(unsigned char *buf, size_t len, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(off + i, seed);
}

/* Does buf match the pattern at off? */
static inline int matches(const unsigned char *buf, size_t len, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pat(off + i, seed))
			return 0;
	return 1;
}

#endif
