/* chunk.c - chunk-aligned range splitting (see chunk.h). */
#include "chunk.h"

/* Set up the iterator. */
void chunk_iter_init(struct chunk_iter *it, uint64_t off, uint64_t len, uint64_t chunk)
{
	it->off = off;
	it->end = off + len < off ? UINT64_MAX : off + len;
	it->chunk = chunk;
}

/* Produce the next aligned piece. */
int chunk_next(struct chunk_iter *it, uint64_t *off, uint64_t *len)
{
	if (it->off >= it->end)
		return 0;
	uint64_t n = it->end - it->off;
	if (it->chunk) {
		uint64_t to_boundary = it->chunk - it->off % it->chunk;
		if (to_boundary < n)
			n = to_boundary;
	}
	*off = it->off;
	*len = n;
	it->off += n;
	return 1;
}

/* Count the pieces without producing them. */
uint64_t chunk_count(uint64_t off, uint64_t len, uint64_t chunk)
{
	if (len == 0)
		return 0;
	if (chunk == 0)
		return 1;
	return (off + len - 1) / chunk - off / chunk + 1;
}
