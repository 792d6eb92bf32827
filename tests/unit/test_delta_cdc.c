/*
 * test_delta_cdc.c - FastCDC: boundaries are deterministic and within the
 * min/max bounds, sizes centre on the average, chunking re-synchronizes
 * after inserted and deleted bytes, the index finds chunks by hash; and a
 * CDC sync over loopback (tests/unit/test_delta_cdc_sync part below)
 * rebuilds the exact target file from the old copy plus the missing chunks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "test_delta_common.h"
#include "delta_cdc.h"

/* How many chunks of b (starting at offset >= from) have a hash found in a. */
static uint64_t shared_after(const struct delta_cdc_list *a, const struct delta_cdc_list *b, uint64_t from,
			     uint64_t *total)
{
	struct delta_cdc_index x;
	struct err e = {0};
	uint64_t hit = 0;
	*total = 0;
	if (delta_cdc_index_build(&x, a, 8, &e))
		return 0;
	for (uint64_t i = 0; i < b->n; i++) {
		if (b->c[i].off < from)
			continue;
		(*total)++;
		hit += delta_cdc_index_find(&x, &b->c[i].h, b->c[i].len) != NULL;
	}
	delta_cdc_index_free(&x);
	return hit;
}

/* Bounds, determinism and the mean size for one average. */
static void check_bounds(const uint8_t *buf, size_t size, uint32_t avg)
{
	struct delta_cdc c;
	struct err e = {0};
	struct delta_cdc_list a = {0}, b = {0};
	CHECK(delta_cdc_init(&c, avg, &e) == 0);
	CHECK(c.min == avg / 4 && c.max == avg * 4);
	CHECK(delta_cdc_split(&c, DELTA_XXH3, buf, size, &a, &e) == 0);
	CHECK(delta_cdc_split(&c, DELTA_XXH3, buf, size, &b, &e) == 0);
	CHECK(a.n == b.n && a.n > 0 && !memcmp(a.c, b.c, sizeof *a.c * a.n));
	int in_bounds = 1;
	uint64_t sum = 0;
	for (uint64_t i = 0; i < a.n; i++) {
		int last = i == a.n - 1;
		in_bounds &= a.c[i].len <= c.max && (last || a.c[i].len >= c.min) && a.c[i].off == sum;
		sum += a.c[i].len;
	}
	CHECK(in_bounds);
	CHECK(sum == size);
	double mean = (double)size / (double)a.n;
	printf("avg %u: %llu chunks, mean %.0f\n", avg, (unsigned long long)a.n, mean);
	CHECK(mean > avg * 0.5 && mean < avg * 2.0);
	delta_cdc_list_free(&a);
	delta_cdc_list_free(&b);
}

/* Insert `ins` bytes (or delete -ins) at `at`; most chunks after it recur. */
static void check_resync(const uint8_t *buf, size_t size, uint32_t avg, size_t at, long ins)
{
	struct delta_cdc c;
	struct err e = {0};
	struct delta_cdc_list a = {0}, b = {0};
	CHECK(delta_cdc_init(&c, avg, &e) == 0);
	uint8_t *mod = malloc(size + (ins > 0 ? (size_t)ins : 0));
	size_t msize;
	memcpy(mod, buf, at);
	if (ins > 0) {
		fill_random(mod + at, (size_t)ins, 99);
		memcpy(mod + at + ins, buf + at, size - at);
		msize = size + (size_t)ins;
	} else {
		memcpy(mod + at, buf + at - ins, size - at + ins);
		msize = size - (size_t)-ins;
	}
	CHECK(delta_cdc_split(&c, DELTA_XXH3, buf, size, &a, &e) == 0);
	CHECK(delta_cdc_split(&c, DELTA_XXH3, mod, msize, &b, &e) == 0);
	uint64_t total, hit = shared_after(&a, &b, at, &total);
	printf("avg %u, %+ld bytes at %zu: %llu of %llu later chunks unchanged\n", avg, ins, at,
	       (unsigned long long)hit, (unsigned long long)total);
	/* Only the chunk holding the edit and at most a couple after it differ. */
	CHECK(total > 4 && hit + 3 >= total);
	/* Before the edit, every chunk that ends before it is the same. */
	uint64_t before = 0, same = 0;
	for (uint64_t i = 0; i < a.n && a.c[i].off + a.c[i].len <= at; i++, before++)
		same += i < b.n && b.c[i].len == a.c[i].len && !memcmp(&b.c[i].h, &a.c[i].h, sizeof a.c[i].h);
	CHECK(same == before);
	free(mod);
	delta_cdc_list_free(&a);
	delta_cdc_list_free(&b);
}

int main(void)
{
	const size_t size = 8u << 20;
	uint8_t *buf = malloc(size);
	fill_random(buf, size, 1);
	struct delta_cdc c;
	struct err e = {0};
	CHECK(delta_cdc_init(&c, 3000, &e) == -1);
	CHECK(delta_cdc_init(&c, 2048, &(struct err){0}) == -1);
	CHECK(delta_cdc_init(&c, 512u << 10, &(struct err){0}) == -1);
	for (uint32_t avg = 4096; avg <= 65536; avg *= 4)
		check_bounds(buf, size, avg);
	/* All-zero data has no content boundaries: every chunk is max long. */
	uint8_t *zero = calloc(1, 1 << 20);
	CHECK(delta_cdc_init(&c, 16384, &e) == 0);
	CHECK(delta_cdc_cut(&c, zero, 1 << 20) == c.max);
	CHECK(delta_cdc_cut(&c, zero, 100) == 100);
	free(zero);
	for (uint32_t avg = 4096; avg <= 65536; avg *= 4) {
		check_resync(buf, size, avg, size / 3, 1);
		check_resync(buf, size, avg, size / 3, 5000);
		check_resync(buf, size, avg, size / 2, -1);
		check_resync(buf, size, avg, size / 2, -70000);
	}
	/* The index finds a chunk by hash and length, not by hash alone. */
	struct delta_cdc_list l = {0};
	CHECK(delta_cdc_split(&c, DELTA_XXH128, buf, size, &l, &e) == 0);
	struct delta_cdc_index x;
	CHECK(delta_cdc_index_build(&x, &l, 16, &e) == 0);
	int found = 1;
	for (uint64_t i = 0; i < l.n; i++)
		found &= delta_cdc_index_find(&x, &l.c[i].h, l.c[i].len) == &l.c[i];
	CHECK(found);
	CHECK(delta_cdc_index_find(&x, &l.c[0].h, l.c[0].len + 1) == NULL);
	delta_hash_t other;
	delta_hash(DELTA_XXH128, "not in there", 12, &other);
	CHECK(delta_cdc_index_find(&x, &other, l.c[0].len) == NULL);
	delta_cdc_index_free(&x);
	delta_cdc_list_free(&l);
	free(buf);
	return check_done();
}
