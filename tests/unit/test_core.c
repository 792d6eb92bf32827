/*
 * test_core.c - unit tests of the harness core: units, data-file parser,
 * content model, histogram, record writer, workload generator.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "content.h"
#include "hist.h"
#include "record.h"
#include "units.h"
#include "workload.h"

/* Sizes, durations, rates and percentages, good and bad. */
static void test_units(void)
{
	struct err e = {0};
	uint64_t v;
	CHECK(parse_size("4k", &v, &e) == 0 && v == 4096);
	CHECK(parse_size("64M", &v, &e) == 0 && v == 64ull << 20);
	CHECK(parse_size("1.5G", &v, &e) == 0 && v == 3ull << 29);
	CHECK(parse_size("4096", &v, &e) == 0 && v == 4096);
	err_clear(&e);
	CHECK(parse_size("-1", &v, &e) == -1 && strstr(e.msg, "negative"));
	err_clear(&e);
	CHECK(parse_size("12q", &v, &e) == -1 && strstr(e.msg, "unknown unit"));
	err_clear(&e);
	CHECK(parse_size("", &v, &e) == -1);
	err_clear(&e);
	CHECK(parse_size("99999999999T", &v, &e) == -1);
	err_clear(&e);
	CHECK(parse_duration_ns("20ms", &v, &e) == 0 && v == 20000000);
	CHECK(parse_duration_ns("0.5ms", &v, &e) == 0 && v == 500000);
	CHECK(parse_duration_ns("0", &v, &e) == 0 && v == 0);
	CHECK(parse_duration_ns("5", &v, &e) == -1 && strstr(e.msg, "needs a unit"));
	err_clear(&e);
	CHECK(parse_rate_bps("1gbit", &v, &e) == 0 && v == 1000000000);
	CHECK(parse_rate_bps("unlimited", &v, &e) == 0 && v == 0);
	CHECK(parse_rate_bps("3furlongs", &v, &e) == -1);
	err_clear(&e);
	double p;
	CHECK(parse_percent("0.01%", &p, &e) == 0 && fabs(p - 0.0001) < 1e-12);
	CHECK(parse_percent("101%", &p, &e) == -1);
	err_clear(&e);
	CHECK(parse_percent("5", &p, &e) == -1);
}

/* The conf parser: values, comments, and errors with file:line. */
static void test_conf(void)
{
	struct conf c;
	struct err e = {0};
	CHECK(conf_parse(&c, "t.conf", "# c\n a = 1 \nb=two words # x\n\n", &e) == 0);
	CHECK(c.n == 2 && !strcmp(conf_get(&c, "a")->value, "1") && !strcmp(conf_get(&c, "b")->value, "two words"));
	CHECK(conf_get(&c, "b")->line == 3);
	CHECK(conf_parse(&c, "t.conf", "a = 1\nnonsense\n", &e) == -1 && strstr(e.msg, "t.conf:2:"));
	err_clear(&e);
	CHECK(conf_parse(&c, "t.conf", "a = 1\na = 2\n", &e) == -1 && strstr(e.msg, "given twice"));
	err_clear(&e);
	CHECK(conf_parse(&c, "t.conf", "A = 1\n", &e) == -1 && strstr(e.msg, "bad key"));
	err_clear(&e);
	CHECK(conf_parse(&c, "t.conf", "a =\n", &e) == -1 && strstr(e.msg, "missing value"));
	err_clear(&e);
	static const char *const known[] = {"a", NULL};
	CHECK(conf_parse(&c, "t.conf", "a = 1\nzz = 2\n", &e) == 0);
	CHECK(conf_check_keys(&c, known, &e) == -1 && strstr(e.msg, "t.conf:2: unknown key 'zz'"));
}

/* Content is deterministic, depends on seed/block/version, and checks find the first bad byte. */
static void test_content(void)
{
	enum { SIZE = 16 * CONTENT_BLOCK };
	unsigned char *a = malloc(SIZE), *b = malloc(SIZE);
	uint32_t versions[16] = {0};
	struct content_model m = {.seed = 7, .size = SIZE, .versions = versions};
	content_fill(&m, a, 0, SIZE);
	content_fill(&m, b, 0, SIZE);
	CHECK(memcmp(a, b, SIZE) == 0);
	uint64_t bad = 0;
	CHECK(content_check(&m, a, 0, SIZE, &bad) == 0);
	/* Unaligned pieces equal the whole. */
	content_fill(&m, b + 100, 100, 5000);
	CHECK(memcmp(a, b, SIZE) == 0);
	CHECK(content_check(&m, a + 123, 123, 9000, &bad) == 0);
	/* A version bump changes exactly that block. */
	versions[3] = 1;
	content_fill(&m, b, 0, SIZE);
	CHECK(memcmp(a, b, 3 * CONTENT_BLOCK) == 0);
	CHECK(memcmp(a + 3 * CONTENT_BLOCK, b + 3 * CONTENT_BLOCK, CONTENT_BLOCK) != 0);
	CHECK(memcmp(a + 4 * CONTENT_BLOCK, b + 4 * CONTENT_BLOCK, SIZE - 4 * CONTENT_BLOCK) == 0);
	CHECK(content_check(&m, a, 0, SIZE, &bad) == -1 && bad >= 3 * CONTENT_BLOCK && bad < 4 * CONTENT_BLOCK);
	/* A zero page is never valid content (the careless-handler case). */
	memset(b + 5 * CONTENT_BLOCK, 0, CONTENT_BLOCK);
	versions[3] = 0;
	CHECK(content_check(&m, b, 0, SIZE, &bad) == -1);
	/* Another seed gives other bytes. */
	struct content_model m2 = {.seed = 8, .size = SIZE};
	content_fill(&m2, b, 0, SIZE);
	CHECK(memcmp(a, b, CONTENT_BLOCK) != 0);
	free(a);
	free(b);
}

/* Percentiles within the bucket error; min/max/mean exact. */
static void test_hist(void)
{
	struct hist *h = malloc(sizeof *h);
	hist_init(h);
	CHECK(hist_percentile(h, 50) == 0);
	for (uint64_t i = 1; i <= 100000; i++)
		hist_add(h, i * 1000);
	CHECK(h->count == 100000 && h->min_ns == 1000 && h->max_ns == 100000000);
	CHECK(fabs(hist_mean(h) - 50000500.0) < 1);
	double p50 = (double)hist_percentile(h, 50), p99 = (double)hist_percentile(h, 99);
	CHECK(fabs(p50 - 50e6) / 50e6 < 0.04);
	CHECK(fabs(p99 - 99e6) / 99e6 < 0.04);
	CHECK(hist_percentile(h, 100) == 100000000);
	CHECK(hist_percentile(h, 0.001) >= 1000);
	struct hist *g = malloc(sizeof *g);
	hist_init(g);
	hist_add(g, 5);
	hist_merge(h, g);
	CHECK(h->count == 100001 && h->min_ns == 5);
	free(g);
	free(h);
}

/* Records are one line of valid-looking JSON with escapes. */
static void test_record(void)
{
	struct record *r = malloc(sizeof *r);
	rec_begin(r);
	rec_str(r, "s", "a\"b\\c\n");
	rec_u64(r, "n", 42);
	rec_obj(r, "o");
	rec_f64(r, "x", 1.5);
	rec_f64(r, "nan", NAN);
	rec_end_obj(r);
	rec_bool(r, "t", 1);
	FILE *f = tmpfile();
	CHECK(rec_write(r, f) == 0);
	rewind(f);
	char line[256] = "";
	CHECK(fgets(line, sizeof line, f) != NULL);
	CHECK(!strcmp(line, "{\"s\":\"a\\\"b\\\\c\\n\",\"n\":42,\"o\":{\"x\":1.5,\"nan\":null},\"t\":true}\n"));
	fclose(f);
	free(r);
}

/* Every pattern stays in range; sequential and random cover each slot once per pass. */
static void test_workload(void)
{
	struct err e = {0};
	const uint64_t size = 1 << 20, n = size / 4096;
	enum workload_pattern pats[] = {PAT_SEQUENTIAL, PAT_RANDOM, PAT_ZIPF, PAT_HOTSET, PAT_HEADER_FIRST, PAT_STRIDE};
	for (unsigned p = 0; p < sizeof pats / sizeof pats[0]; p++) {
		struct workload w = {.pattern = pats[p], .access_size = 4096, .zipf_s = 0.99, .hot_fraction = 0.1,
				     .hot_probability = 0.9, .header_size = 64 << 10, .stride = 64 << 10};
		struct workload_gen *g = workload_gen_new(&w, size, 3, &e);
		CHECK(g != NULL);
		if (!g)
			continue;
		unsigned char seen[256] = {0};
		int in_range = 1, hot = 0;
		for (uint64_t i = 0; i < n; i++) {
			int wr;
			uint64_t off = workload_gen_next(g, &wr);
			in_range &= off < size && off % 4096 == 0 && !wr;
			if (off < size)
				seen[off / 4096]++;
			hot += off < size / 10;
		}
		CHECK(in_range);
		if (pats[p] == PAT_SEQUENTIAL || pats[p] == PAT_RANDOM || pats[p] == PAT_HEADER_FIRST ||
		    pats[p] == PAT_STRIDE) {
			int once = 1;
			for (uint64_t i = 0; i < n; i++)
				once &= seen[i] == 1;
			CHECK(once);
		}
		if (pats[p] == PAT_HOTSET)
			CHECK(hot > (int)(n * 8 / 10));
		workload_gen_free(g);
	}
	/* Same seed, same sequence; writes follow the fraction. */
	struct workload w = {.pattern = PAT_RANDOM, .access_size = 4096, .write_fraction = 0.3};
	struct workload_gen *a = workload_gen_new(&w, size, 9, &e), *b = workload_gen_new(&w, size, 9, &e);
	int same = 1, writes = 0;
	for (uint64_t i = 0; i < n; i++) {
		int wa, wb;
		same &= workload_gen_next(a, &wa) == workload_gen_next(b, &wb) && wa == wb;
		writes += wa;
	}
	CHECK(same);
	CHECK(writes > (int)n * 2 / 10 && writes < (int)n * 4 / 10);
	workload_gen_free(a);
	workload_gen_free(b);
	/* Misfit sizes are refused. */
	struct workload big = {.pattern = PAT_SEQUENTIAL, .access_size = 64 << 10};
	CHECK(workload_validate(&big, 4096 * 3, &e) == -1);
}

/* Running a workload on memory updates versions and the content matches the model. */
static void test_workload_run(void)
{
	struct err e = {0};
	const uint64_t size = 256 << 10;
	unsigned char *map = aligned_alloc(4096, size);
	uint32_t *versions = calloc(size / 4096, sizeof *versions);
	struct content_model m = {.seed = 5, .size = size, .versions = versions};
	content_fill(&m, map, 0, size);
	struct workload w = {.pattern = PAT_RANDOM, .access_size = 8192, .write_fraction = 0.5};
	struct workload_result *res = malloc(sizeof *res);
	CHECK(workload_run(&w, map, size, 5, versions, NULL, res, &e) == 0);
	CHECK(res->accesses == size / 8192 && res->bytes_read + res->bytes_written == size);
	uint64_t bad;
	CHECK(content_check(&m, map, 0, size, &bad) == 0);
	uint64_t bumped = 0;
	for (uint64_t i = 0; i < size / 4096; i++)
		bumped += versions[i];
	CHECK(bumped == res->bytes_written / 4096);
	free(res);
	free(versions);
	free(map);
}

/* Shipped workload files all parse; a bad one names file and line. */
static void test_workload_files(void)
{
	char names[64][64];
	struct err e = {0};
	int n = workload_list(names, 64, &e);
	CHECK(n >= 8);
	for (int i = 0; i < n; i++) {
		struct workload w;
		err_clear(&e);
		int ok = workload_load(names[i], &w, &e) == 0;
		if (!ok)
			fprintf(stderr, "%s\n", e.msg);
		CHECK(ok);
	}
	char path[] = "/tmp/memsync-wl-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fputs("pattern = sequential\naccess_size = 3000\n", f);
	fclose(f);
	char named[64];
	snprintf(named, sizeof named, "%s", path);
	err_clear(&e);
	struct workload w;
	CHECK(workload_load(named, &w, &e) == -1 && strstr(e.msg, ":2:") && strstr(e.msg, "multiple of 4096"));
	remove(path);
}

/* Run all. */
int main(void)
{
	test_units();
	test_conf();
	test_content();
	test_hist();
	test_record();
	test_workload();
	test_workload_run();
	test_workload_files();
	return check_done();
}
