/*
 * delta_tool.c - memsync-delta: the delta engine on the command line.
 *
 *   memsync-delta recv ADDR PORT FILE [--once] [--drop-after N]
 *       receive into FILE, one session after another; a FILE it creates
 *       gets the permission bits of the pushed file (an existing one keeps its own)
 *   memsync-delta push ADDR PORT FILE [--chunk N] [--hash H] [--workers N] [--whole-file] [--cycles]
 *                      [--chunking fixed|cdc] [--cdc-avg N]
 *       one connect + hash exchange + cycle; prints one JSON line of stats;
 *       --cycles: then one more cycle per line on stdin (steady state: the
 *       destination's hashes are kept, as the approach's syncer does);
 *       --chunking cdc: content-defined chunks (FastCDC, average --cdc-avg,
 *       default 16k) matched anywhere in the destination's copy; its
 *       hash_exchange_bytes are HELLO's plus the first cycle's RECIPE and WANT
 *   memsync-delta hashbench [--size BYTES] [--quick]
 *       hash throughput per algorithm, chunk size and thread count (JSON Lines)
 *   memsync-delta mutate FILE FRACTION [--seed N] [--block BYTES]
 *       overwrite FRACTION of the file's blocks (distinct, random) with new bytes
 *   memsync-delta splice FILE EDITS [--seed N] [--max BYTES]
 *       EDITS insertions or deletions (alternating) of 1..BYTES (default 256)
 *       bytes at random offsets: what follows each edit shifts
 *   memsync-delta --help
 *       this usage on stdout (exit 0; a usage error prints it on stderr, exit 2)
 *
 * Used by harness/bench/delta.sh (side by side with rsync over the same
 * emulated link) and by tests/test-delta-{faults,tool}.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta_engine.h"
#include "clock.h"
#include "io.h"
#include "log.h"
#include "record.h"
#include "units.h"

/* Seconds rounded to the microsecond. */
static double round_us(double s)
{
	return round(s * 1e6) / 1e6;
}

/* Write one record to stdout; -1 (with a message) if that fails. */
static int report_write(struct record *r)
{
	if (!rec_write(r, stdout))
		return 0;
	fprintf(stderr, "memsync-delta: cannot write to stdout: %s\n", strerror(errno));
	return -1;
}

/* Print the usage to f and return rc. */
static int usage_to(FILE *f, int rc)
{
	fprintf(f, "usage: memsync-delta recv ADDR PORT FILE [--once] [--drop-after N]\n"
		   "       memsync-delta push ADDR PORT FILE [--chunk N] [--hash H] [--workers N] [--whole-file] [--cycles]\n"
		   "                          [--chunking fixed|cdc] [--cdc-avg N]\n"
		   "       memsync-delta hashbench [--size BYTES] [--quick]\n"
		   "       memsync-delta mutate FILE FRACTION [--seed N] [--block BYTES]\n"
		   "       memsync-delta splice FILE EDITS [--seed N] [--max BYTES]\n"
		   "       memsync-delta --help\n"
		   "A FILE that recv creates gets the permission bits of the file pushed into it.\n"
		   "Hashes (--hash) and what computes them in this build:");
	for (unsigned a = 1; a <= DELTA_ALGO_MAX; a++)
		fprintf(f, " %s (%s)", delta_algo_name(a), delta_algo_impl(a));
	fprintf(f, "\n");
	return rc;
}

/* A usage error: the usage on stderr, exit code 2. */
static int usage(void)
{
	return usage_to(stderr, 2);
}

/* Receive into a file. */
static int cmd_recv(int argc, char **argv)
{
	if (argc < 4)
		return usage();
	int once = 0, drop = 0, port = atoi(argv[2]);
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--once"))
			once = 1;
		else if (!strcmp(argv[i], "--drop-after") && i + 1 < argc)
			drop = atoi(argv[++i]);
		else
			return usage();
	}
	struct err e = {0};
	struct stat st;
	uint64_t size = stat(argv[3], &st) == 0 ? (uint64_t)st.st_size : 0;
	struct delta_store s;
	if (delta_store_open(&s, argv[3], size, &e))
		goto fail;
	s.fault_drop_chunks = drop;
	int lfd = delta_listen(argv[1], &port, &e);
	if (lfd < 0)
		goto fail;
	fprintf(stderr, "memsync-delta: listening on %s:%d\n", argv[1], port);
	for (;;) {
		struct delta_conn c;
		int r = delta_accept(lfd, &c, -1, &e);
		if (r < 0)
			goto fail;
		if (r == 0)
			continue;
		struct err se = {0};
		int rc = delta_recv_session(&s, &c, &se);
		if (rc) {
			fprintf(stderr, "memsync-delta: session ended: %s\n", se.msg);
			delta_linger_error(&c, se.msg);
		}
		else
			fprintf(stderr, "memsync-delta: session done (%llu cycles, %llu bytes in)\n",
				(unsigned long long)s.cycles, (unsigned long long)s.bytes_in);
		delta_conn_close(&c);
		if (once) {
			close(lfd);
			delta_store_close(&s);
			return rc ? 1 : 0;
		}
	}
fail:
	fprintf(stderr, "memsync-delta: %s\n", e.msg);
	return 1;
}

/* Print one cycle's statistics as a JSON line; -1 if stdout fails. */
static int push_report(const struct delta_sender *s, uint64_t size, unsigned workers, int cycle, double connect_s,
		       double cycle_s, uint64_t wire)
{
	struct record r;
	rec_begin(&r);
	rec_str(&r, "tool", "memsync-delta");
	rec_i64(&r, "cycle", cycle);
	rec_u64(&r, "size", size);
	rec_u64(&r, "chunk", s->chunk);
	rec_str(&r, "hash", delta_algo_name(s->algo));
	rec_str(&r, "mode", delta_mode_name(s->mode));
	rec_u64(&r, "workers", workers);
	rec_f64(&r, "connect_s", round_us(connect_s));
	rec_f64(&r, "cycle_s", round_us(cycle_s));
	rec_f64(&r, "total_s", round_us(connect_s + cycle_s));
	rec_f64(&r, "hash_s", round_us((double)s->last_hash_ns / 1e9));
	rec_u64(&r, "chunks_sent", s->last_chunks);
	rec_u64(&r, "bytes_sent", s->last_bytes);
	rec_u64(&r, "hash_exchange_bytes", cycle ? 0 : s->hash_wire);
	rec_u64(&r, "protocol_bytes", wire);
	return report_write(&r);
}

/* Map a file at its current size (NULL on error; "" for an empty file);
 * *fmode: its permission bits. */
static const uint8_t *push_map(const char *path, uint64_t *size, uint16_t *fmode)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "memsync-delta: cannot open %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	*size = (uint64_t)st.st_size;
	*fmode = (uint16_t)(st.st_mode & DELTA_FILE_MODE_MASK);
	const uint8_t *map = *size ? mmap(NULL, *size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0) : (const uint8_t *)"";
	close(fd);
	if (map == MAP_FAILED) {
		fprintf(stderr, "memsync-delta: cannot map %s: %s\n", path, strerror(errno));
		return NULL;
	}
	return map;
}

/* Push a file: connect + hash exchange + one cycle; with --cycles, one more
 * cycle (hashes kept from the last) for every line read on stdin. */
static int cmd_push(int argc, char **argv)
{
	if (argc < 4)
		return usage();
	uint64_t chunk = 64 << 10, avg = 16 << 10;
	unsigned algo = DELTA_XXH3, workers = 2, mode = 0;
	int cycles = 0, cdc = 0;
	for (int i = 4; i < argc; i++) {
		struct err pe = {0};
		if (!strcmp(argv[i], "--chunk") && i + 1 < argc) {
			if (parse_size(argv[++i], &chunk, &pe))
				return fprintf(stderr, "memsync-delta: %s\n", pe.msg), 2;
		} else if (!strcmp(argv[i], "--cdc-avg") && i + 1 < argc) {
			if (parse_size(argv[++i], &avg, &pe) || avg > DELTA_CDC_MAX_AVG)
				return fprintf(stderr, "memsync-delta: bad --cdc-avg\n"), 2;
		} else if (!strcmp(argv[i], "--chunking") && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "fixed") && strcmp(argv[i], "cdc"))
				return usage();
			cdc = !strcmp(argv[i], "cdc");
		} else if (!strcmp(argv[i], "--hash") && i + 1 < argc) {
			if (!(algo = delta_algo_parse(argv[++i])))
				return usage();
		} else if (!strcmp(argv[i], "--workers") && i + 1 < argc) {
			workers = (unsigned)atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--whole-file")) {
			mode = 1;
		} else if (!strcmp(argv[i], "--cycles")) {
			cycles = 1;
		} else {
			return usage();
		}
	}
	if (cdc && mode)
		return fprintf(stderr, "memsync-delta: --chunking cdc and --whole-file exclude each other\n"), 2;
	if (cdc) {
		mode = DELTA_MODE_CDC_CHUNKS;
		chunk = avg;
	}
	struct err e = {0};
	uint64_t size;
	uint16_t fmode;
	const uint8_t *map = push_map(argv[3], &size, &fmode);
	if (!map)
		return 1;
	struct delta_sender s;
	uint64_t t0 = now_ns();
	if (delta_sender_init(&s, argv[1], atoi(argv[2]), (uint32_t)chunk, algo, mode, workers, &e))
		goto fail;
	s.file_mode = fmode;
	if (delta_sender_connect(&s, size, 10000, &e))
		goto fail;
	uint64_t t1 = now_ns();
	for (int cycle = 0;; cycle++) {
		uint64_t w0 = s.c.bytes_in + s.c.bytes_out, tc = now_ns();
		struct delta_view v = {.base = map, .size = size};
		if (delta_sender_cycle(&s, &v, NULL, &e))
			goto fail;
		uint64_t t2 = now_ns();
		if (push_report(&s, size, workers, cycle, cycle ? 0 : (double)(t1 - t0) / 1e9, (double)(t2 - tc) / 1e9,
				s.c.bytes_in + s.c.bytes_out - (cycle ? w0 : 0))) {
			delta_sender_free(&s);
			return 1;
		}
		char line[64];
		if (!cycles || !fgets(line, sizeof line, stdin))
			break;
		struct stat st;
		if (stat(argv[3], &st))
			return fprintf(stderr, "memsync-delta: %s: %s\n", argv[3], strerror(errno)), 1;
		if ((uint64_t)st.st_size != size) { /* remap only when the size changed, like the syncer */
			if (size)
				munmap((void *)map, size);
			if (!(map = push_map(argv[3], &size, &fmode)))
				return 1;
		}
	}
	delta_sender_free(&s);
	return 0;
fail:
	fprintf(stderr, "memsync-delta: %s\n", e.msg);
	delta_sender_free(&s); /* initialised before the first goto */
	return 1;
}

/* Hash throughput per algorithm, chunk size and thread count. */
static int cmd_hashbench(int argc, char **argv)
{
	uint64_t size = 256 << 20;
	int quick = 0;
	for (int i = 2; i < argc; i++) {
		struct err pe = {0};
		if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			if (parse_size(argv[++i], &size, &pe))
				return fprintf(stderr, "memsync-delta: %s\n", pe.msg), 2;
		} else if (!strcmp(argv[i], "--quick")) {
			quick = 1;
		} else {
			return usage();
		}
	}
	uint8_t *buf = malloc(size);
	if (!buf)
		return fprintf(stderr, "memsync-delta: out of memory\n"), 1;
	for (uint64_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	static const uint32_t chunks[] = {4096, 16384, 65536, 262144, 1048576};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads[] = {1, (unsigned)(ncpu > 1 ? ncpu : 2)};
	uint64_t maxn = size / 4096;
	delta_hash_t *out = malloc(sizeof *out * maxn);
	for (unsigned a = 1; a <= DELTA_ALGO_MAX; a++)
		for (size_t c = 0; delta_algo_available(a) && c < sizeof chunks / sizeof chunks[0]; c++)
			for (size_t t = 0; t < 2; t++) {
				uint64_t n = size / chunks[c];
				int reps = quick ? 3 : 9;
				uint64_t best = UINT64_MAX;
				delta_hash_chunks(a, buf, size, chunks[c], 0, n, threads[t], out); /* warm */
				for (int r = 0; r < reps; r++) {
					uint64_t t0 = now_ns();
					delta_hash_chunks(a, buf, size, chunks[c], 0, n, threads[t], out);
					uint64_t d = now_ns() - t0;
					if (d < best)
						best = d;
				}
				struct record r;
				rec_begin(&r);
				rec_str(&r, "type", "delta-hash");
				rec_str(&r, "hash", delta_algo_name(a));
				rec_u64(&r, "chunk", chunks[c]);
				rec_u64(&r, "threads", threads[t]);
				rec_u64(&r, "size", size);
				rec_f64(&r, "seconds", round_us((double)best / 1e9));
				rec_f64(&r, "gb_s", round((double)size / ((double)best / 1e9) / 1e6) / 1e3);
				if (report_write(&r)) {
					free(out);
					free(buf);
					return 1;
				}
			}
	free(out);
	free(buf);
	return 0;
}

/* Overwrite a fraction of a file's blocks, chosen at random without repeats. */
static int cmd_mutate(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	uint64_t seed = 1, block = 4096;
	double frac = atof(argv[2]);
	for (int i = 3; i < argc; i++) {
		struct err pe = {0};
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--block") && i + 1 < argc) {
			if (parse_size(argv[++i], &block, &pe) || !block)
				return fprintf(stderr, "memsync-delta: bad block size\n"), 2;
		} else
			return usage();
	}
	int fd = open(argv[1], O_RDWR | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		return fprintf(stderr, "memsync-delta: cannot open %s: %s\n", argv[1], strerror(errno)), 1;
	uint64_t nb = (uint64_t)st.st_size / block, want = (uint64_t)((double)nb * frac);
	uint8_t *mark = calloc(nb ? nb : 1, 1), *buf = malloc(block);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1, done = 0;
	while (mark && buf && done < want) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t b = x % nb;
		if (mark[b])
			continue;
		mark[b] = 1;
		for (uint64_t i = 0; i < block; i++)
			x ^= x << 13, x ^= x >> 7, x ^= x << 17, buf[i] = (uint8_t)x;
		if (pwrite(fd, buf, block, (off_t)(b * block)) != (ssize_t)block)
			return fprintf(stderr, "memsync-delta: write failed: %s\n", strerror(errno)), 1;
		done++;
	}
	struct record r;
	rec_begin(&r);
	rec_u64(&r, "blocks", nb);
	rec_u64(&r, "changed", done);
	rec_u64(&r, "block", block);
	int rc = report_write(&r) ? 1 : 0;
	free(mark);
	free(buf);
	close(fd);
	return rc;
}

/* Next value of a xorshift64 generator. */
static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

/* Compare two offsets (qsort). */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Insert or delete runs of bytes at random offsets; the file is rewritten. */
static int cmd_splice(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	uint64_t seed = 1, max = 256, edits = strtoull(argv[2], NULL, 0);
	for (int i = 3; i < argc; i++) {
		struct err pe = {0};
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--max") && i + 1 < argc) {
			if (parse_size(argv[++i], &max, &pe) || !max)
				return fprintf(stderr, "memsync-delta: bad --max\n"), 2;
		} else
			return usage();
	}
	uint64_t size;
	uint16_t fmode;
	const uint8_t *map = push_map(argv[1], &size, &fmode);
	if (!map)
		return 1;
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1, *at = calloc(edits ? edits : 1, sizeof *at), in = 0, out = 0;
	uint8_t *dst = malloc(size + edits * max + 1);
	if (!at || !dst)
		return fprintf(stderr, "memsync-delta: out of memory\n"), 1;
	for (uint64_t k = 0; k < edits; k++)
		at[k] = size ? xorshift(&x) % size : 0;
	qsort(at, edits, sizeof *at, cmp_u64);
	uint64_t inserted = 0, deleted = 0;
	for (uint64_t k = 0; k < edits; k++) {
		uint64_t len = 1 + xorshift(&x) % max, pos = at[k] > in ? at[k] : in;
		memcpy(dst + out, map + in, pos - in);
		out += pos - in;
		in = pos;
		if (k % 2 == 0) { /* insert new bytes */
			for (uint64_t i = 0; i < len; i++)
				dst[out++] = (uint8_t)(xorshift(&x) >> 24);
			inserted += len;
		} else { /* delete bytes */
			len = len < size - in ? len : size - in;
			in += len;
			deleted += len;
		}
	}
	memcpy(dst + out, map + in, size - in);
	out += size - in;
	if (size)
		munmap((void *)map, size);
	int fd = open(argv[1], O_WRONLY | O_TRUNC | O_CLOEXEC);
	int rc = fd < 0 || write_all(fd, dst, out) ? 1 : 0;
	if (rc) {
		fprintf(stderr, "memsync-delta: cannot rewrite %s: %s\n", argv[1], strerror(errno));
	} else {
		struct record r;
		rec_begin(&r);
		rec_u64(&r, "edits", edits);
		rec_u64(&r, "inserted", inserted);
		rec_u64(&r, "deleted", deleted);
		rec_u64(&r, "size", out);
		rc = report_write(&r) ? 1 : 0;
	}
	if (fd >= 0)
		close(fd);
	free(at);
	free(dst);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage_to(stdout, 0);
	if (!strcmp(argv[1], "recv"))
		return cmd_recv(argc - 1, argv + 1);
	if (!strcmp(argv[1], "push"))
		return cmd_push(argc - 1, argv + 1);
	if (!strcmp(argv[1], "mutate"))
		return cmd_mutate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "splice"))
		return cmd_splice(argc - 1, argv + 1);
	if (!strcmp(argv[1], "hashbench"))
		return cmd_hashbench(argc, argv);
	return usage();
}
