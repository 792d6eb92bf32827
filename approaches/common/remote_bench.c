/*
 * remote_bench.c - memsync-remote-bench: throughput of an NBD export
 * through memsync's client layer (remote.h). Sequential or random reads
 * or writes of one request size with N requests in flight over M
 * connections; prints one JSON line (MB/s = 10^6 bytes/s) on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "record.h"
#include "remote.h"
#include "units.h"

/* Free request slots: each slot owns one buffer. */
struct slots {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int *free_list;
	int nfree;
	int failed;
};

struct slot_ref {
	struct slots *s;
	int idx;
};

/* Completion: give the slot back. */
static void slot_done(void *arg, int error)
{
	struct slot_ref *ref = arg;
	struct slots *s = ref->s;
	pthread_mutex_lock(&s->lock);
	if (error)
		s->failed = error;
	s->free_list[s->nfree++] = ref->idx;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Take a free slot, waiting for one if needed. */
static int slot_take(struct slots *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->nfree == 0)
		pthread_cond_wait(&s->cond, &s->lock);
	int idx = s->free_list[--s->nfree];
	pthread_mutex_unlock(&s->lock);
	return idx;
}

/* xorshift64 for random offsets. */
static uint64_t next_random(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Print usage. */
static void usage(FILE *f)
{
	fprintf(f, "usage: memsync-remote-bench --uri URI [--op read|write] [--pattern seq|rand] [--bs SIZE]\n"
		   "                            [--total SIZE] [--inflight N] [--nconn N] [--chunk SIZE] [--label TEXT]\n");
}

/* What the command line asks for. */
struct bench_args {
	const char *uri, *op, *pattern, *label;
	uint64_t bs, total, chunk;
	int inflight, nconn;
	int writing, random_access;
};

/* Parse the command line: 0 to run, 1 for a usage error, 2 after --help. */
static int parse_args(int argc, char **argv, struct bench_args *a, struct err *e)
{
	static const struct option longopts[] = {
		{"uri", required_argument, NULL, 'u'}, {"op", required_argument, NULL, 'o'},
		{"pattern", required_argument, NULL, 'p'}, {"bs", required_argument, NULL, 'b'},
		{"total", required_argument, NULL, 't'}, {"inflight", required_argument, NULL, 'i'},
		{"nconn", required_argument, NULL, 'n'}, {"chunk", required_argument, NULL, 'c'},
		{"label", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'}, {0},
	};
	*a = (struct bench_args){.op = "read", .pattern = "seq", .label = "", .bs = 65536, .total = 256ull << 20,
				 .inflight = 16, .nconn = 1};
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': a->uri = optarg; break;
		case 'o': a->op = optarg; break;
		case 'p': a->pattern = optarg; break;
		case 'b': if (parse_size(optarg, &a->bs, e)) return 1; break;
		case 't': if (parse_size(optarg, &a->total, e)) return 1; break;
		case 'c': if (parse_size(optarg, &a->chunk, e)) return 1; break;
		case 'i': a->inflight = atoi(optarg); break;
		case 'n': a->nconn = atoi(optarg); break;
		case 'l': a->label = optarg; break;
		case 'h': usage(stdout); return 2;
		default: usage(stderr); return 1;
		}
	}
	a->writing = !strcmp(a->op, "write");
	a->random_access = !strcmp(a->pattern, "rand");
	if (!a->uri || a->bs == 0 || a->inflight < 1 || (!a->writing && strcmp(a->op, "read")) ||
	    (!a->random_access && strcmp(a->pattern, "seq"))) {
		usage(stderr);
		return 1;
	}
	return 0;
}

/* Run the benchmark. */
int main(int argc, char **argv)
{
	struct bench_args a;
	struct err e = {0};
	int prc = parse_args(argc, argv, &a, &e);
	if (prc == 2)
		return 0;
	if (prc) {
		if (e.set)
			fprintf(stderr, "memsync-remote-bench: %s\n", e.msg);
		return 1;
	}
	const char *uri = a.uri, *op = a.op, *pattern = a.pattern, *label = a.label;
	uint64_t bs = a.bs, total = a.total, chunk = a.chunk;
	int inflight = a.inflight, nconn = a.nconn, writing = a.writing, random_access = a.random_access;
	struct remote_opts ro = {.uri = uri, .nconn = nconn, .max_inflight = inflight, .chunk_size = chunk};
	struct remote *r = remote_connect_opts(&ro, &e);
	if (!r)
		goto bad;
	uint64_t size = remote_size(r);
	if (bs > size) {
		err_set(&e, "request size larger than the export");
		goto bad;
	}
	uint64_t nblocks = size / bs, nops = (total + bs - 1) / bs;
	struct slots s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, calloc((size_t)inflight, sizeof(int)),
			  inflight, 0};
	struct slot_ref *refs = calloc((size_t)inflight, sizeof *refs);
	unsigned char *bufs = malloc((size_t)inflight * bs);
	if (!s.free_list || !refs || !bufs) {
		err_set(&e, "out of memory");
		goto bad;
	}
	memset(bufs, 0xa5, (size_t)inflight * bs);
	for (int i = 0; i < inflight; i++) {
		s.free_list[i] = i;
		refs[i] = (struct slot_ref){&s, i};
	}
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned long long t0 = now_ns();
	for (uint64_t i = 0; i < nops; i++) {
		uint64_t block = random_access ? next_random(&x) % nblocks : i % nblocks;
		int slot = slot_take(&s);
		unsigned char *buf = bufs + (size_t)slot * bs;
		int rc = writing ? remote_aio_pwrite(r, buf, bs, block * bs, slot_done, &refs[slot], &e)
				 : remote_aio_pread(r, buf, bs, block * bs, slot_done, &refs[slot], &e);
		if (rc)
			goto bad;
	}
	if (remote_drain(r, &e) || (writing && remote_flush(r, &e)))
		goto bad;
	double secs = (double)(now_ns() - t0) / 1e9;
	if (s.failed) {
		err_errno(&e, s.failed, "a request failed");
		goto bad;
	}
	uint64_t bytes = nops * bs;
	struct record rec;
	rec_begin(&rec);
	rec_str(&rec, "label", label);
	rec_str(&rec, "op", op);
	rec_str(&rec, "pattern", pattern);
	rec_u64(&rec, "bs", bs);
	rec_i64(&rec, "inflight", inflight);
	rec_i64(&rec, "nconn", nconn);
	rec_u64(&rec, "bytes", bytes);
	rec_f64(&rec, "seconds", round(secs * 1e6) / 1e6); /* the resolutions the bench scripts always had */
	rec_f64(&rec, "mbps", round((double)bytes / secs / 1e5) / 10);
	rec_f64(&rec, "iops", round((double)nops / secs));
	if (rec_write(&rec, stdout)) {
		err_errno(&e, errno, "cannot write to stdout");
		goto bad;
	}
	remote_close(r);
	free(s.free_list);
	free(refs);
	free(bufs);
	return 0;
bad:
	fprintf(stderr, "memsync-remote-bench: %s\n", e.msg);
	return 1;
}
