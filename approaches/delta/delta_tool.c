/*
 * delta_tool.c - memsync-delta: the delta engine on the command line.
 *
 *   memsync-delta recv ADDR PORT FILE [--once] [--drop-after N]
 *       receive into FILE, one session after another; a FILE it creates
 *       gets the permission bits of the pushed file (an existing one keeps its own)
 *   memsync-delta push ADDR PORT FILE [--chunk N] [--hash H] [--workers N] [--whole-file] [--cycles]
 *       one connect + hash exchange + cycle; prints one JSON line of stats;
 *       --cycles: then one more cycle per line on stdin (steady state: the
 *       destination's hashes are kept, as the approach's syncer does)
 *   memsync-delta hashbench [--size BYTES] [--quick]
 *       hash throughput per algorithm, chunk size and thread count (JSON Lines)
 *   memsync-delta mutate FILE FRACTION [--seed N] [--block BYTES]
 *       overwrite FRACTION of the file's blocks (distinct, random) with new bytes
 *   memsync-delta --help
 *       this usage on stdout (exit 0; a usage error prints it on stderr, exit 2)
 *
 * Used by harness/bench/delta.sh (side by side with rsync over the same
 * emulated link) and by tests/test-delta-{faults,tool}.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta_engine.h"
#include "clock.h"
#include "log.h"
#include "units.h"

/* Print the usage to f and return rc. */
static int usage_to(FILE *f, int rc)
{
	fprintf(f, "usage: memsync-delta recv ADDR PORT FILE [--once] [--drop-after N]\n"
		   "       memsync-delta push ADDR PORT FILE [--chunk N] [--hash H] [--workers N] [--whole-file] [--cycles]\n"
		   "       memsync-delta hashbench [--size BYTES] [--quick]\n"
		   "       memsync-delta mutate FILE FRACTION [--seed N] [--block BYTES]\n"
		   "       memsync-delta --help\n"
		   "A FILE that recv creates gets the permission bits of the file pushed into it.\n");
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

/* Print one cycle's statistics as a JSON line. */
static void push_report(const struct delta_sender *s, uint64_t size, unsigned workers, int cycle, double connect_s,
			double cycle_s, uint64_t wire)
{
	printf("{\"tool\":\"memsync-delta\",\"cycle\":%d,\"size\":%llu,\"chunk\":%u,\"hash\":\"%s\",\"mode\":\"%s\","
	       "\"workers\":%u,\"connect_s\":%.6f,\"cycle_s\":%.6f,\"total_s\":%.6f,\"hash_s\":%.6f,"
	       "\"chunks_sent\":%llu,\"bytes_sent\":%llu,\"hash_exchange_bytes\":%llu,\"protocol_bytes\":%llu}\n",
	       cycle, (unsigned long long)size, s->chunk, delta_algo_name(s->algo), s->mode ? "whole-file" : "chunks",
	       workers, connect_s, cycle_s, connect_s + cycle_s, (double)s->last_hash_ns / 1e9,
	       (unsigned long long)s->last_chunks, (unsigned long long)s->last_bytes,
	       (unsigned long long)(cycle ? 0 : s->hash_wire), (unsigned long long)wire);
	fflush(stdout);
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
	uint64_t chunk = 64 << 10;
	unsigned algo = DELTA_XXH3, workers = 2, mode = 0;
	int cycles = 0;
	for (int i = 4; i < argc; i++) {
		struct err pe = {0};
		if (!strcmp(argv[i], "--chunk") && i + 1 < argc) {
			if (parse_size(argv[++i], &chunk, &pe))
				return fprintf(stderr, "memsync-delta: %s\n", pe.msg), 2;
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
		push_report(&s, size, workers, cycle, cycle ? 0 : (double)(t1 - t0) / 1e9, (double)(t2 - tc) / 1e9,
			    s.c.bytes_in + s.c.bytes_out - (cycle ? w0 : 0));
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
		for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
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
				printf("{\"type\":\"delta-hash\",\"hash\":\"%s\",\"chunk\":%u,\"threads\":%u,\"size\":%llu,"
				       "\"seconds\":%.6f,\"gb_s\":%.3f}\n",
				       delta_algo_name(a), chunks[c], threads[t], (unsigned long long)size,
				       (double)best / 1e9, (double)size / ((double)best / 1e9) / 1e9);
				fflush(stdout);
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
	printf("{\"blocks\":%llu,\"changed\":%llu,\"block\":%llu}\n", (unsigned long long)nb, (unsigned long long)done,
	       (unsigned long long)block);
	free(mark);
	free(buf);
	close(fd);
	return 0;
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
	if (!strcmp(argv[1], "hashbench"))
		return cmd_hashbench(argc, argv);
	return usage();
}
