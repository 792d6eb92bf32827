/*
 * workload.h - the one workload generator of memsync.
 *
 * A workload is a data file (harness/workloads/<name>.conf) naming an
 * access pattern (sequential, random, zipf, hotset, header-first, stride),
 * the access size, the share of writes, how much to access (total bytes or
 * a duration), an optional target rate and a seed. The same generator, in
 * the same workload process, drives every approach; the approach only
 * decides how the region is mapped.
 */
#ifndef MEMSYNC_WORKLOAD_H
#define MEMSYNC_WORKLOAD_H

#include <stdint.h>

#include "err.h"
#include "hist.h"

enum workload_pattern {
	PAT_SEQUENTIAL,
	PAT_RANDOM,       /* uniform random order, every slot once per pass */
	PAT_ZIPF,         /* zipf-distributed slots (with replacement), skew zipf_s */
	PAT_HOTSET,       /* hot_probability of accesses go to the first hot_fraction */
	PAT_HEADER_FIRST, /* the first header_size bytes in order, then random */
	PAT_STRIDE,       /* every stride bytes, shifted by one access per wrap */
};

struct workload {
	char name[64];
	char description[128];
	enum workload_pattern pattern;
	uint64_t access_size;   /* bytes per access */
	double write_fraction;  /* 0 = reads only, 1 = writes only */
	uint64_t total_bytes;   /* 0 = the region size (one pass), unless total_fraction */
	double total_fraction;  /* "total = 1%": that share of the region (0 = unused) */
	uint64_t duration_ns;   /* 0 = until total_bytes; else loop for this long */
	uint64_t rate_bps;      /* target rate in bits/s, 0 = as fast as possible */
	double zipf_s;
	double hot_fraction, hot_probability;
	uint64_t header_size;
	uint64_t stride;
};

/* What one workload run measured. */
struct workload_result {
	uint64_t accesses, bytes_read, bytes_written, writes;
	uint64_t first_access_ns;  /* latency of the very first access */
	uint64_t elapsed_ns;       /* wall time of the timed phase */
	struct hist read_lat, write_lat;
};

/* Load harness/workloads/<name>.conf (or a path) into w, with file:line errors. */
int workload_load(const char *name_or_path, struct workload *w, struct err *e);

/* Names of the shipped workloads; returns the count. */
int workload_list(char (*names)[64], int max, struct err *e);

/* Name of a pattern. */
const char *workload_pattern_name(enum workload_pattern p);

/* Generator state: yields (offset, is_write) pairs. */
struct workload_gen;

/* Create a generator for a region of `size` bytes (multiple of access_size). */
struct workload_gen *workload_gen_new(const struct workload *w, uint64_t size, uint64_t seed, struct err *e);
/* Next access offset; *is_write tells whether it is a write. */
uint64_t workload_gen_next(struct workload_gen *g, int *is_write);
/* Free. */
void workload_gen_free(struct workload_gen *g);

/* Bytes a workload accesses in a region of `size` (when not duration-bound). */
uint64_t workload_total(const struct workload *w, uint64_t size);

/* Check that the workload fits a region of `size` bytes. */
int workload_validate(const struct workload *w, uint64_t size, struct err *e);

/* Run the workload against a mapped region: reads copy out of the mapping,
 * writes put fresh content-model blocks in (bumping versions[]). stop, when
 * it becomes non-zero, ends a duration-bound run early. */
int workload_run(const struct workload *w, unsigned char *map, uint64_t size, uint64_t seed,
		 uint32_t *versions, volatile int *stop, struct workload_result *res, struct err *e);

#endif
