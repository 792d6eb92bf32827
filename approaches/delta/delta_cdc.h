/*
 * delta_cdc.h - content-defined chunking for the delta approach: FastCDC
 * (a Gear rolling hash, normalized chunking with two masks, min/max
 * bounds), a region's chunk list with each chunk's hash, and an index
 * hash -> chunk to find a chunk anywhere in a copy.
 */
#ifndef MEMSYNC_DELTA_CDC_H
#define MEMSYNC_DELTA_CDC_H

#include <stddef.h>
#include <stdint.h>

#include "delta_hash.h"
#include "err.h"

/* FastCDC parameters for one average size. */
struct delta_cdc {
	uint32_t min, avg, max;  /* min = avg / 4, max = avg * 4 */
	uint64_t mask_s, mask_l; /* harder mask before avg, easier one after */
};

/* One chunk of a region: where, how long, its hash. */
struct delta_cdc_chunk {
	uint64_t off;
	uint32_t len;
	delta_hash_t h;
};

/* A region's chunks in order. */
struct delta_cdc_list {
	struct delta_cdc_chunk *c;
	uint64_t n, cap;
};

/* hash -> chunk (open addressing over a list the index does not own). */
struct delta_cdc_index {
	uint64_t *slot; /* chunk number + 1, 0 = empty */
	uint64_t mask;
	const struct delta_cdc_list *l;
	unsigned hash_len;
};

/* Parameters for an average chunk size (a power of two, 4 KiB..256 KiB). */
int delta_cdc_init(struct delta_cdc *c, uint32_t avg, struct err *e);
/* Length of the chunk that starts at p (len bytes remain). */
size_t delta_cdc_cut(const struct delta_cdc *c, const uint8_t *p, size_t len);
/* Split [base, base+size) into chunks and hash each with algo; the list is
 * replaced (its memory reused). */
int delta_cdc_split(const struct delta_cdc *c, unsigned algo, const uint8_t *base, uint64_t size,
		    struct delta_cdc_list *l, struct err *e);
/* Append a chunk (offset follows the last one). */
int delta_cdc_list_add(struct delta_cdc_list *l, uint32_t len, const delta_hash_t *h, struct err *e);
/* Free a list. */
void delta_cdc_list_free(struct delta_cdc_list *l);
/* Index a list by hash (hash_len bytes of each hash are compared). */
int delta_cdc_index_build(struct delta_cdc_index *x, const struct delta_cdc_list *l, unsigned hash_len,
			  struct err *e);
/* A chunk of the indexed list with this hash and length, or NULL. */
const struct delta_cdc_chunk *delta_cdc_index_find(const struct delta_cdc_index *x, const delta_hash_t *h,
						   uint32_t len);
/* Free an index. */
void delta_cdc_index_free(struct delta_cdc_index *x);

#endif
