/*
 * hist.h - the one latency histogram of memsync.
 *
 * Log-linear buckets (32 sub-buckets per power of two, < 3.2 % relative
 * error) over nanoseconds, fixed size, no allocation: it can live in shared
 * memory written by one process and read by another. min, max and sum are
 * exact.
 */
#ifndef MEMSYNC_HIST_H
#define MEMSYNC_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS (64 * HIST_SUB)

struct hist {
	uint64_t count, sum_ns, min_ns, max_ns;
	uint64_t bucket[HIST_BUCKETS];
};

/* Empty the histogram. */
void hist_init(struct hist *h);
/* Add one sample in nanoseconds. */
void hist_add(struct hist *h, uint64_t ns);
/* Add every sample of src into dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at percentile p (0..100), as the upper bound of its bucket, capped at max. */
uint64_t hist_percentile(const struct hist *h, double p);
/* Mean in ns (0 when empty). */
double hist_mean(const struct hist *h);

#endif
