/*
 * chunk.h - splitting a byte range into chunk-aligned pieces.
 *
 * Used for client-side chunking (one NBD request per chunk) and by the
 * server's --chunk option (one backend call per chunk), so the thesis's
 * "chunking on the client vs on the server" comparison can be made.
 *
 *     struct chunk_iter it;
 *     chunk_iter_init(&it, off, len, 65536);
 *     while (chunk_next(&it, &coff, &clen)) issue(coff, clen);
 */
#ifndef MEMSYNC_CHUNK_H
#define MEMSYNC_CHUNK_H

#include <stddef.h>
#include <stdint.h>

struct chunk_iter {
	uint64_t off, end;
	uint64_t chunk; /* 0 = one piece */
};

/* Start iterating over [off, off+len) in pieces aligned to chunk. */
void chunk_iter_init(struct chunk_iter *it, uint64_t off, uint64_t len, uint64_t chunk);

/* Next piece; returns 0 when done. Pieces never cross a multiple of chunk. */
int chunk_next(struct chunk_iter *it, uint64_t *off, uint64_t *len);

/* Number of pieces [off, off+len) splits into. */
uint64_t chunk_count(uint64_t off, uint64_t len, uint64_t chunk);

#endif
