/* workload.c - workload data files, access-pattern generator and executor. */
#include "workload.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"
#include "content.h"
#include "clock.h"
#include "log.h"
#include "units.h"

static const char *const pattern_names[] = {
	[PAT_SEQUENTIAL] = "sequential", [PAT_RANDOM] = "random", [PAT_ZIPF] = "zipf",
	[PAT_HOTSET] = "hotset", [PAT_HEADER_FIRST] = "header-first", [PAT_STRIDE] = "stride",
};

/* Pattern enum -> name. */
const char *workload_pattern_name(enum workload_pattern p)
{
	return pattern_names[p];
}

/* Parse a fraction given as "30%" or "0.3" into [0,1]. */
static int parse_fraction(const struct conf *c, const struct conf_entry *ent, double *out, struct err *e)
{
	struct err sub = {0};
	if (strchr(ent->value, '%')) {
		if (parse_percent(ent->value, out, &sub))
			return conf_error(c, ent, e, "%s", sub.msg);
		return 0;
	}
	char *end;
	double v = strtod(ent->value, &end);
	if (*end || end == ent->value || !(v >= 0 && v <= 1))
		return conf_error(c, ent, e, "bad %s '%s': expected 0..1 or a percentage", ent->key, ent->value);
	*out = v;
	return 0;
}

/* Parse a size entry, reporting file:line. */
static int conf_size(const struct conf *c, const char *key, uint64_t *out, struct err *e)
{
	const struct conf_entry *ent = conf_get(c, key);
	struct err sub = {0};
	if (ent && parse_size(ent->value, out, &sub))
		return conf_error(c, ent, e, "%s: %s", key, sub.msg);
	return 0;
}

/* Load and validate one workload file. */
int workload_load(const char *name_or_path, struct workload *w, struct err *e)
{
	static const char *const keys[] = {"description", "pattern", "access_size", "writes", "total",
					   "duration", "rate", "zipf_s", "hot_fraction", "hot_probability",
					   "header_size", "stride", NULL};
	char path[512];
	struct conf c;
	conf_resolve("harness/workloads", name_or_path, path, sizeof path);
	if (conf_load(&c, path, e) || conf_check_keys(&c, keys, e))
		return -1;
	memset(w, 0, sizeof *w);
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	snprintf(w->name, sizeof w->name, "%.*s", (int)(strlen(base) > 5 ? strlen(base) - 5 : strlen(base)), base);
	w->access_size = 4096;
	w->zipf_s = 0.99;
	w->hot_fraction = 0.1;
	w->hot_probability = 0.9;
	w->header_size = 1 << 20;
	w->stride = 64 * 4096;

	const struct conf_entry *ent;
	if ((ent = conf_get(&c, "description")))
		snprintf(w->description, sizeof w->description, "%.127s", ent->value);
	if (!(ent = conf_get(&c, "pattern")))
		return conf_error(&c, NULL, e, "missing 'pattern' (sequential, random, zipf, hotset, header-first, stride)");
	int found = 0;
	for (unsigned i = 0; i < sizeof pattern_names / sizeof pattern_names[0]; i++)
		if (!strcmp(ent->value, pattern_names[i])) {
			w->pattern = (enum workload_pattern)i;
			found = 1;
		}
	if (!found)
		return conf_error(&c, ent, e, "unknown pattern '%s' (sequential, random, zipf, hotset, header-first, stride)", ent->value);
	if (conf_size(&c, "access_size", &w->access_size, e) || conf_size(&c, "header_size", &w->header_size, e) ||
	    conf_size(&c, "stride", &w->stride, e))
		return -1;
	if (w->access_size == 0 || w->access_size % 4096)
		return conf_error(&c, conf_get(&c, "access_size"), e, "access_size must be a positive multiple of 4096");
	if (w->stride == 0 || w->stride % w->access_size)
		return conf_error(&c, conf_get(&c, "stride"), e, "stride must be a positive multiple of access_size");
	if ((ent = conf_get(&c, "writes")) && parse_fraction(&c, ent, &w->write_fraction, e))
		return -1;
	if ((ent = conf_get(&c, "hot_fraction")) && parse_fraction(&c, ent, &w->hot_fraction, e))
		return -1;
	if ((ent = conf_get(&c, "hot_probability")) && parse_fraction(&c, ent, &w->hot_probability, e))
		return -1;
	if ((ent = conf_get(&c, "total")) && strchr(ent->value, '%')) {
		if (parse_fraction(&c, ent, &w->total_fraction, e))
			return -1;
		if (w->total_fraction <= 0)
			return conf_error(&c, ent, e, "total must be above 0%%");
	} else if (ent && strcmp(ent->value, "region") && conf_size(&c, "total", &w->total_bytes, e)) {
		return -1;
	}
	struct err sub = {0};
	if ((ent = conf_get(&c, "duration")) && parse_duration_ns(ent->value, &w->duration_ns, &sub))
		return conf_error(&c, ent, e, "%s", sub.msg);
	if ((ent = conf_get(&c, "rate")) && parse_rate_bps(ent->value, &w->rate_bps, &sub))
		return conf_error(&c, ent, e, "%s", sub.msg);
	if ((ent = conf_get(&c, "zipf_s"))) {
		char *end;
		w->zipf_s = strtod(ent->value, &end);
		if (*end || !(w->zipf_s > 0 && w->zipf_s < 10))
			return conf_error(&c, ent, e, "zipf_s must be a number in (0, 10)");
	}
	return 0;
}

/* Shipped workloads. */
int workload_list(char (*names)[64], int max, struct err *e)
{
	return conf_list("harness/workloads", names, max, e);
}

/* Bytes a workload accesses in a region of `size` (when not duration-bound). */
uint64_t workload_total(const struct workload *w, uint64_t size)
{
	if (w->total_fraction > 0) {
		uint64_t t = (uint64_t)((double)size * w->total_fraction) / w->access_size * w->access_size;
		return t ? t : w->access_size;
	}
	return w->total_bytes ? w->total_bytes : size;
}

/* Reject workloads that do not fit the region. */
int workload_validate(const struct workload *w, uint64_t size, struct err *e)
{
	if (size < w->access_size || size % w->access_size)
		return err_set(e, "region size %llu is not a multiple of workload %s's access size %llu",
			       (unsigned long long)size, w->name, (unsigned long long)w->access_size);
	if (w->total_bytes && w->total_bytes % w->access_size)
		return err_set(e, "workload %s: total is not a multiple of access_size", w->name);
	return 0;
}

struct workload_gen {
	const struct workload *w;
	uint64_t slots, issued, rng[4];
	uint32_t *perm;   /* random order (PAT_RANDOM, header-first's tail) */
	double *zipf_cdf; /* PAT_ZIPF */
	uint64_t header_slots;
};

/* xoshiro256** step. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t r = s[1] * 5;
	r = ((r << 7) | (r >> 57)) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return r;
}

/* Uniform double in [0,1). */
static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0,n). */
static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(rng_unit(s) * (double)n) % n;
}

/* Fisher-Yates permutation of [first, first+n) into perm. */
static void shuffle(uint32_t *perm, uint64_t first, uint64_t n, uint64_t *rng)
{
	for (uint64_t i = 0; i < n; i++)
		perm[i] = (uint32_t)(first + i);
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = rng_below(rng, i);
		uint32_t t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
}

/* Build the generator; allocates tables for random and zipf patterns. */
struct workload_gen *workload_gen_new(const struct workload *w, uint64_t size, uint64_t seed, struct err *e)
{
	if (workload_validate(w, size, e))
		return NULL;
	struct workload_gen *g = calloc(1, sizeof *g);
	if (!g) {
		err_set(e, "out of memory");
		return NULL;
	}
	g->w = w;
	g->slots = size / w->access_size;
	uint64_t x = seed ^ 0x5eed5eed5eedull;
	for (int i = 0; i < 4; i++) {
		x += 0x9e3779b97f4a7c15ull;
		uint64_t z = x;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		g->rng[i] = z ^ (z >> 31);
	}
	if (g->slots > UINT32_MAX) {
		err_set(e, "region has too many access slots (%llu)", (unsigned long long)g->slots);
		goto fail;
	}
	g->header_slots = w->header_size / w->access_size;
	if (g->header_slots > g->slots)
		g->header_slots = g->slots;
	if (w->pattern == PAT_RANDOM || w->pattern == PAT_HEADER_FIRST) {
		uint64_t first = w->pattern == PAT_HEADER_FIRST ? g->header_slots : 0;
		g->perm = malloc((g->slots - first + 1) * sizeof *g->perm);
		if (!g->perm) {
			err_set(e, "out of memory for a %llu-slot permutation", (unsigned long long)g->slots);
			goto fail;
		}
		shuffle(g->perm, first, g->slots - first, g->rng);
	}
	if (w->pattern == PAT_ZIPF) {
		g->zipf_cdf = malloc(g->slots * sizeof *g->zipf_cdf);
		if (!g->zipf_cdf) {
			err_set(e, "out of memory for a zipf table");
			goto fail;
		}
		double sum = 0;
		for (uint64_t k = 0; k < g->slots; k++)
			g->zipf_cdf[k] = (sum += 1.0 / pow((double)(k + 1), w->zipf_s));
		for (uint64_t k = 0; k < g->slots; k++)
			g->zipf_cdf[k] /= sum;
	}
	return g;
fail:
	workload_gen_free(g);
	return NULL;
}

/* Zipf rank for a uniform u by binary search in the CDF. */
static uint64_t zipf_rank(const struct workload_gen *g, double u)
{
	uint64_t lo = 0, hi = g->slots - 1;
	while (lo < hi) {
		uint64_t mid = (lo + hi) / 2;
		if (g->zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Next slot for the pattern, then scale to a byte offset. */
uint64_t workload_gen_next(struct workload_gen *g, int *is_write)
{
	const struct workload *w = g->w;
	uint64_t i = g->issued++, n = g->slots, slot;
	uint64_t pass_i = i % n;
	switch (w->pattern) {
	case PAT_RANDOM:
		slot = g->perm[pass_i];
		break;
	case PAT_ZIPF:
		/* Scatter ranks over the region with a bijection (prime multiplier). */
		slot = (zipf_rank(g, rng_unit(g->rng)) * 2654435761ull) % n;
		break;
	case PAT_HOTSET: {
		uint64_t hot = (uint64_t)((double)n * w->hot_fraction);
		if (hot < 1)
			hot = 1;
		if (rng_unit(g->rng) < w->hot_probability || hot >= n)
			slot = rng_below(g->rng, hot);
		else
			slot = hot + rng_below(g->rng, n - hot);
		break;
	}
	case PAT_HEADER_FIRST:
		slot = pass_i < g->header_slots ? pass_i : g->perm[pass_i - g->header_slots];
		break;
	case PAT_STRIDE: {
		uint64_t per = w->stride / w->access_size; /* slots per stride */
		uint64_t lanes = (n + per - 1) / per;      /* accesses per sweep */
		uint64_t sweep = pass_i / lanes, lane = pass_i % lanes;
		slot = lane * per + sweep % per;
		if (slot >= n) /* short last lane: fall back to sequential fill */
			slot = pass_i;
		break;
	}
	default:
		slot = pass_i;
	}
	*is_write = w->write_fraction >= 1 || (w->write_fraction > 0 && rng_unit(g->rng) < w->write_fraction);
	return slot * w->access_size;
}

/* Release tables. */
void workload_gen_free(struct workload_gen *g)
{
	if (!g)
		return;
	free(g->perm);
	free(g->zipf_cdf);
	free(g);
}

/* Sleep until the byte count matches the target rate. */
static void pace(const struct workload *w, uint64_t start_ns, uint64_t bytes)
{
	if (!w->rate_bps)
		return;
	uint64_t due = start_ns + (uint64_t)((double)bytes * 8e9 / (double)w->rate_bps);
	uint64_t now = now_ns();
	if (due > now) {
		struct timespec ts = {(time_t)((due - now) / 1000000000ull), (long)((due - now) % 1000000000ull)};
		nanosleep(&ts, NULL);
	}
}

/* Execute: time every access; writes bump versions and store model content. */
int workload_run(const struct workload *w, unsigned char *map, uint64_t size, uint64_t seed,
		 uint32_t *versions, volatile int *stop, struct workload_result *res, struct err *e)
{
	memset(res, 0, sizeof *res);
	hist_init(&res->read_lat);
	hist_init(&res->write_lat);
	struct workload_gen *g = workload_gen_new(w, size, seed, e);
	if (!g)
		return -1;
	unsigned char *buf = aligned_alloc(4096, w->access_size);
	if (!buf) {
		workload_gen_free(g);
		return err_set(e, "out of memory for a %llu-byte access buffer", (unsigned long long)w->access_size);
	}
	memset(buf, 0, w->access_size); /* fault the buffer in now, not in the first timed access */
	uint64_t total = workload_total(w, size);
	uint64_t start = now_ns(), done = 0;
	for (;;) {
		if (w->duration_ns ? now_ns() - start >= w->duration_ns : done >= total)
			break;
		if (stop && *stop)
			break;
		int is_write;
		uint64_t off = workload_gen_next(g, &is_write);
		if (is_write) {
			/* Prepare the new content outside the timed section. */
			for (uint64_t b = 0; b < w->access_size; b += CONTENT_BLOCK) {
				uint64_t block = (off + b) / CONTENT_BLOCK;
				content_fill_block(seed, block, versions[block] + 1, buf + b);
			}
		}
		uint64_t t0 = now_ns();
		if (is_write)
			memcpy(map + off, buf, w->access_size);
		else
			memcpy(buf, map + off, w->access_size);
		uint64_t lat = now_ns() - t0;
		if (is_write) {
			for (uint64_t b = 0; b < w->access_size; b += CONTENT_BLOCK)
				versions[(off + b) / CONTENT_BLOCK]++;
			hist_add(&res->write_lat, lat);
			res->bytes_written += w->access_size;
			res->writes++;
		} else {
			hist_add(&res->read_lat, lat);
			res->bytes_read += w->access_size;
		}
		if (res->accesses++ == 0)
			res->first_access_ns = lat;
		done += w->access_size;
		pace(w, start, done);
	}
	res->elapsed_ns = now_ns() - start;
	free(buf);
	workload_gen_free(g);
	return 0;
}
