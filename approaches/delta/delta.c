/*
 * delta.c - the `delta` approach: mmap(MAP_SHARED) of a file + msync +
 * polling hash delta sync, pushed to one destination or to a hub that fans
 * out to N destinations; pre-copy migration.
 *
 * Local process: open() writes version-0 content into a file in the
 * scratch directory (the workload maps it MAP_SHARED), connects to the
 * destination and exchanges hashes. A cycle finds the changed chunks -
 * dirty=hash: hash every chunk with worker threads and compare with what
 * the destination holds; dirty=pagemap: the workload's mapping is
 * registered with userfaultfd in async write-protect mode (the runner does
 * that in the workload process and hands over the uffd), and PAGEMAP_SCAN
 * on /proc/<workload>/pagemap returns and re-protects the written pages -
 * then sends them and waits for the ACK. poll_interval runs cycles in the
 * background while the workload runs; sync() runs one more.
 *
 * Remote process: serve() starts a receiver into its own file (initial =
 * same | empty | stale content), or with dests=N a hub with N destinations
 * (threads on host 1 with their own files, on loopback). remote_read()
 * reads the copy; with a hub it waits for every destination and compares.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "approach.h"
#include "delta_engine.h"
#include "delta_pagemap.h"
#include "log.h"

#define DELTA_MAX_WORKERS 64
#define DELTA_MAX_DESTS 16
#define REGION_FILE_MODE 0644          /* the region file, and the copies that mirror it */
#define CONNECT_TIMEOUT_MS 10000
#define SYNC_ATTEMPTS 4                /* a cycle is tried this often, reconnecting between */
#define RECONNECT_BACKOFF_US 100000u   /* doubled with every attempt */
#define BG_STEP_NS 5000000ull          /* background thread checks for stop this often */
/* initial=stale: every STALE_EVERY-th block (block % STALE_EVERY == STALE_PHASE)
 * holds content of another seed and version than the source's version 0. */
#define STALE_EVERY 10
#define STALE_PHASE 3
#define STALE_SEED_XOR 0x5eedull
#define STALE_VERSION 7

static const struct approach_opt delta_options[] = {
	{"chunk", "4k", "chunk size, a power of two from 4k to 1M (4k: no amplification of scattered 4 KiB writes)"},
	{"workers", "2", "hashing threads"},
	{"hash", "xxh3", "chunk hash: xxh3, xxh128, xxh64, crc32, adler32, sha256 (GnuTLS builds; for untrusted peers), "
			"crc32c (the SSE4.2 instruction where the CPU has it, else a table)"},
	{"mode", "chunks", "chunks (per-chunk hashes) or whole-file (one hash, resend everything on change)"},
	{"chunking", "fixed", "fixed (chunk-sized chunks at fixed offsets) or cdc (content-defined, FastCDC: the "
			      "destination finds chunks by hash anywhere in its copy; one destination, dirty=hash)"},
	{"cdc_avg", "16k", "chunking=cdc: average chunk size, a power of two from 4k to 256k (min avg/4, max 4*avg)"},
	{"poll_interval", "0", "time between background cycles while the workload runs (50ms, 1s; a bare number is ms); "
			       "0 = only on sync()"},
	{"dirty", "hash", "dirty detection: hash (hash every chunk) or pagemap (uffd async WP + PAGEMAP_SCAN)"},
	{"initial", "same", "destination's initial copy: same (version 0), empty (zeros), stale (10% of blocks differ)"},
	{"dests", "0", "0: push to one receiver; N: push to a hub on host 1 that fans out to N destinations"},
	{"late_join_ms", "0", "hub: the last destination joins this much later than the others (a bare number is ms)"},
	{"tls", "off", "off; psk: TLS 1.3 with a pre-shared key (derived per scenario) on every connection; "
		       "x509: mutual TLS 1.3 with certificates from tls_dir (every leg, hub included)"},
	{"tls_dir", "", "tls=x509: directory with ca-cert.pem, server-{cert,key}.pem, client-{cert,key}.pem"},
	{"fault_drop", "0", "test hook: the receiver drops the connection after N chunks of a cycle, once"},
	{"mig_max_dirty", "16", "migration: stop pre-copy when a round sends at most this many chunks"},
	{"mig_max_rounds", "30", "migration: at most this many pre-copy rounds"},
	{NULL, NULL, NULL},
};

/* Values of mode (in enum delta_mode order), dirty, initial and tls. */
static const char *const delta_mode_names[] = {"chunks", "whole-file", NULL};
enum delta_dirty { DIRTY_HASH, DIRTY_PAGEMAP };
static const char *const delta_dirty_names[] = {"hash", "pagemap", NULL};
enum delta_initial { INITIAL_SAME, INITIAL_EMPTY, INITIAL_STALE };
static const char *const delta_initial_names[] = {"same", "empty", "stale", NULL};
enum delta_tls_kind { TLS_OFF, TLS_PSK, TLS_X509 };
static const char *const delta_tls_names[] = {"off", "psk", "x509", NULL};
enum delta_chunking { CHUNKING_FIXED, CHUNKING_CDC };
static const char *const delta_chunking_names[] = {"fixed", "cdc", NULL};

/* Options shared by both sides. */
struct delta_cfg {
	uint64_t chunk, workers, poll_ns, dests, late_ns, fault_drop, mig_max_dirty, mig_max_rounds, cdc_avg;
	unsigned algo;
	int mode, dirty, initial, chunking; /* enum delta_mode, delta_dirty, delta_initial, delta_chunking */
	struct delta_tls sec;
};

/* The TLS settings: a per-scenario pre-shared key both sides derive, or
 * the X.509 directory. */
static int delta_cfg_tls(const struct scenario *sc, struct delta_cfg *c, struct err *e)
{
	int kind;
	if (scenario_opt_enum(sc, "tls", delta_tls_names, TLS_OFF, &kind, e))
		return -1;
	if (kind == TLS_OFF)
		return 0;
	if (!delta_tls_available())
		return err_set(e, "delta: tls=%s needs a build with GnuTLS", delta_tls_names[kind]);
	if (kind == TLS_PSK) {
		char seedstr[PATH_MAX + 64];
		snprintf(seedstr, sizeof seedstr, "memsync-delta:%s:%llu", sc->workdir, (unsigned long long)sc->seed);
		delta_hash_t k1, k2;
		unsigned hl = delta_hash_len(DELTA_XXH128); /* 16 of the 32 bytes a delta_hash_t holds */
		delta_hash(DELTA_XXH128, seedstr, strlen(seedstr), &k1);
		delta_hash(DELTA_XXH128, k1.b, hl, &k2);
		memcpy(c->sec.key, k1.b, hl);
		memcpy(c->sec.key + hl, k2.b, hl);
		c->sec.len = 2 * hl;
		return 0;
	}
	const char *dir = scenario_opt(sc, "tls_dir", "");
	if (!dir[0])
		return err_set(e, "delta: tls=x509 needs -o tls_dir=DIR (ca-cert.pem, server-cert.pem, "
				  "server-key.pem, client-cert.pem, client-key.pem; see approaches/delta/README.md)");
	if (strlen(dir) >= sizeof c->sec.x509_dir)
		return err_set(e, "delta: tls_dir is too long");
	if (delta_tls_check_dir(dir, e))
		return -1;
	snprintf(c->sec.x509_dir, sizeof c->sec.x509_dir, "%s", dir);
	return 0;
}

/* chunking=cdc: check what it combines with; the sender's mode becomes
 * content-defined chunks and its chunk the average. */
static int delta_cfg_cdc(struct delta_cfg *c, struct err *e)
{
	if (c->cdc_avg < DELTA_CDC_MIN_AVG || c->cdc_avg > DELTA_CDC_MAX_AVG || (c->cdc_avg & (c->cdc_avg - 1)))
		return err_set(e, "delta: cdc_avg must be a power of two from 4k to 256k, not %llu",
			       (unsigned long long)c->cdc_avg);
	if (c->mode != DELTA_MODE_CHUNKS)
		return err_set(e, "delta: chunking=cdc needs mode=chunks");
	if (c->dirty == DIRTY_PAGEMAP)
		return err_set(e, "delta: chunking=cdc needs dirty=hash (every cycle chunks the whole region)");
	if (c->dests)
		return err_set(e, "delta: chunking=cdc needs dests=0 (the hub forwards fixed chunks)");
	c->mode = DELTA_MODE_CDC_CHUNKS;
	c->chunk = c->cdc_avg;
	return 0;
}

/* Parse and check the options. */
static int delta_cfg_parse(const struct scenario *sc, struct delta_cfg *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	const char *hashes[DELTA_ALGO_MAX + 1];
	for (unsigned a = 1; a <= DELTA_ALGO_MAX; a++)
		hashes[a - 1] = delta_algo_name(a);
	hashes[DELTA_ALGO_MAX] = NULL;
	int hash;
	if (scenario_opt_size(sc, "chunk", 4 << 10, &c->chunk, e) || scenario_opt_uint(sc, "workers", 2, &c->workers, e) ||
	    scenario_opt_duration(sc, "poll_interval", 0, &c->poll_ns, e) ||
	    scenario_opt_uint(sc, "dests", 0, &c->dests, e) || scenario_opt_duration(sc, "late_join_ms", 0, &c->late_ns, e) ||
	    scenario_opt_uint(sc, "fault_drop", 0, &c->fault_drop, e) ||
	    scenario_opt_uint(sc, "mig_max_dirty", 16, &c->mig_max_dirty, e) ||
	    scenario_opt_uint(sc, "mig_max_rounds", 30, &c->mig_max_rounds, e) ||
	    scenario_opt_enum(sc, "hash", hashes, DELTA_XXH3 - 1, &hash, e) ||
	    scenario_opt_enum(sc, "mode", delta_mode_names, DELTA_MODE_CHUNKS, &c->mode, e) ||
	    scenario_opt_enum(sc, "dirty", delta_dirty_names, DIRTY_HASH, &c->dirty, e) ||
	    scenario_opt_enum(sc, "initial", delta_initial_names, INITIAL_SAME, &c->initial, e) ||
	    scenario_opt_enum(sc, "chunking", delta_chunking_names, CHUNKING_FIXED, &c->chunking, e) ||
	    scenario_opt_size(sc, "cdc_avg", 16 << 10, &c->cdc_avg, e))
		return -1;
	c->algo = (unsigned)hash + 1;
	if (!delta_algo_available(c->algo))
		return err_set(e, "delta: hash=%s needs a build with GnuTLS", delta_algo_name(c->algo));
	if (c->chunk < DELTA_MIN_CHUNK || c->chunk > DELTA_MAX_CHUNK || (c->chunk & (c->chunk - 1)))
		return err_set(e, "delta: chunk must be a power of two from 4k to 1M, not %llu", (unsigned long long)c->chunk);
	if (c->workers < 1 || c->workers > DELTA_MAX_WORKERS)
		return err_set(e, "delta: workers must be 1..%d", DELTA_MAX_WORKERS);
	if (c->dests > DELTA_MAX_DESTS)
		return err_set(e, "delta: dests must be 0..%d", DELTA_MAX_DESTS);
	if (c->dirty == DIRTY_PAGEMAP && c->mode != DELTA_MODE_CHUNKS)
		return err_set(e, "delta: dirty=pagemap needs mode=chunks");
	if (c->chunking == CHUNKING_CDC && delta_cfg_cdc(c, e))
		return -1;
	return delta_cfg_tls(sc, c, e);
}

/* check_options hook: every option parses, before the first scenario. */
static int delta_check_options(const struct scenario *sc, struct err *e)
{
	struct delta_cfg c;
	return delta_cfg_parse(sc, &c, e);
}

/* content_write_fd() edit: make every tenth block stale. */
static void delta_make_stale(void *buf, uint64_t off, size_t len, void *arg)
{
	const struct scenario *sc = arg;
	for (size_t b = 0; b + CONTENT_BLOCK <= len; b += CONTENT_BLOCK) {
		uint64_t block = (off + b) / CONTENT_BLOCK;
		if (block % STALE_EVERY == STALE_PHASE)
			content_fill_block(sc->seed ^ STALE_SEED_XOR, block, STALE_VERSION, (char *)buf + b);
	}
}

/* Write a file's initial content: version 0, zeros, or version 0 with 10 % stale blocks. */
static int delta_fill_file(const char *path, const struct scenario *sc, int initial, struct err *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, REGION_FILE_MODE);
	if (fd < 0)
		return err_errno(e, errno, "cannot create %s", path);
	int rc = 0;
	if (ftruncate(fd, (off_t)sc->size))
		rc = err_errno(e, errno, "cannot size %s", path);
	struct content_model m = {.seed = sc->seed, .size = sc->size, .versions = NULL};
	if (!rc && initial != INITIAL_EMPTY)
		rc = content_write_fd(&m, fd, initial == INITIAL_STALE ? delta_make_stale : NULL, (void *)sc, e);
	close(fd);
	return rc;
}

/* ---- remote side ---------------------------------------------------------- */

struct delta_remote {
	struct delta_cfg cfg;
	struct delta_store store;
	struct delta_hub hub;
	int is_hub;
};

struct prep_ctx {
	const struct scenario *sc;
	int initial;
};

/* Hub: create one copy (hub or destination) with the initial content. */
static int delta_prepare(const char *path, int idx, void *ctx, struct err *e)
{
	struct prep_ctx *p = ctx;
	(void)idx;
	return delta_fill_file(path, p->sc, p->initial, e);
}

/* Start the receiver (or the hub and its destinations). */
static int delta_serve(struct host *h, struct err *e)
{
	struct delta_remote *d = calloc(1, sizeof *d);
	if (!d)
		return err_set(e, "out of memory");
	h->priv = d;
	if (delta_cfg_parse(h->sc, &d->cfg, e))
		return -1;
	if (d->cfg.dests) {
		d->is_hub = 1;
		struct prep_ctx p = {h->sc, d->cfg.initial};
		return delta_hub_start(&d->hub, h->sc->workdir, h->addr, &h->port, h->sc->size, (int)d->cfg.dests,
				       (uint32_t)d->cfg.chunk, d->cfg.algo, (unsigned)d->cfg.workers,
				       (unsigned)(d->cfg.late_ns / 1000000), delta_tls_on(&d->cfg.sec) ? &d->cfg.sec : NULL,
				       delta_prepare, &p, e);
	}
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/delta-remote", h->sc->workdir);
	if (delta_fill_file(path, h->sc, d->cfg.initial, e) || delta_store_open(&d->store, path, h->sc->size, e))
		return -1;
	d->store.fault_drop_chunks = (int)d->cfg.fault_drop;
	d->store.sec = d->cfg.sec;
	return delta_store_listen(&d->store, h->addr, &h->port, e);
}

/* Read the destination's copy (every destination's, with a hub). */
static int delta_remote_read(struct host *h, void *buf, size_t len, uint64_t off, struct err *e)
{
	struct delta_remote *d = h->priv;
	return d->is_hub ? delta_hub_read(&d->hub, buf, len, off, e) : delta_store_read(&d->store, buf, len, off, e);
}

/* Stop serving. */
static void delta_serve_stop(struct host *h)
{
	struct delta_remote *d = h->priv;
	if (!d)
		return;
	if (d->is_hub) {
		delta_hub_stop(&d->hub);
	} else {
		delta_store_stop(&d->store);
		if (d->store.path[0])
			delta_store_close(&d->store);
	}
	free(d);
	h->priv = NULL;
}

/* ---- local side ----------------------------------------------------------- */

struct delta_local {
	int is_dest; /* 0: a source (struct delta_local), 1: struct delta_dest */
	struct delta_cfg cfg;
	struct delta_sender snd;
	int fd;
	const uint8_t *map;
	uint64_t mapsize;
	pthread_mutex_t mu;
	pthread_t bg;
	int bg_running;
	volatile int stop;
	int tracking;               /* dirty=pagemap armed: cycles hash only pm's dirty chunks */
	struct delta_pagemap pm;
	uint8_t *dirty;
	uint64_t bytes_pushed, chunks_dirty, cycles;
};

/* Map (or remap) the source file at its current size. */
static int delta_local_remap(struct delta_local *l, const char *path, struct err *e)
{
	struct stat st;
	if (fstat(l->fd, &st))
		return err_errno(e, errno, "fstat %s", path);
	uint64_t size = (uint64_t)st.st_size;
	if (l->map && size == l->mapsize)
		return 0;
	if (l->map && l->mapsize)
		munmap((void *)l->map, l->mapsize);
	l->map = NULL;
	l->mapsize = size;
	if (!size) {
		l->map = (const uint8_t *)"";
		return 0;
	}
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, l->fd, 0);
	if (p == MAP_FAILED)
		return err_errno(e, errno, "cannot map %s", path);
	l->map = p;
	return 0;
}

/* One cycle (with the lock held): find the dirty chunks, push them, wait for
 * the ACK; reconnects (with a fresh hash exchange) after a failure. */
static int delta_cycle_locked(struct delta_local *l, struct region *r, struct err *e)
{
	if (delta_local_remap(l, r->path, e))
		return -1;
	uint64_t n = (l->mapsize + l->cfg.chunk - 1) / l->cfg.chunk;
	if (l->tracking) {
		uint8_t *nd = realloc(l->dirty, n ? n : 1);
		if (!nd)
			return err_set(e, "out of memory");
		l->dirty = nd;
		if (delta_pagemap_scan(&l->pm, l->dirty, n, e))
			return -1;
	}
	struct delta_view v = {.base = l->map, .size = l->mapsize};
	struct err last = {0};
	for (int attempt = 0; attempt < SYNC_ATTEMPTS; attempt++) {
		int full = !l->snd.connected;
		if (!l->snd.connected) {
			if (attempt)
				usleep(RECONNECT_BACKOFF_US << attempt);
			err_clear(&last);
			if (delta_sender_connect(&l->snd, l->mapsize, CONNECT_TIMEOUT_MS, &last)) {
				log_warn("delta: connect: %s", last.msg);
				continue;
			}
		}
		err_clear(&last);
		if (delta_sender_cycle(&l->snd, &v, l->tracking && !full ? l->dirty : NULL, &last) == 0) {
			l->bytes_pushed += l->snd.last_bytes;
			l->chunks_dirty += l->snd.last_chunks;
			l->cycles++;
			r->bytes_pushed = l->bytes_pushed;
			r->chunks_dirty = l->chunks_dirty;
			return 0;
		}
		log_warn("delta: cycle failed: %s (reconnecting with a hash exchange)", last.msg);
	}
	return err_set(e, "delta: sync failed after %d attempts: %s", SYNC_ATTEMPTS, last.msg);
}

/* Background cycles while the workload runs. */
static void *delta_bg(void *arg)
{
	struct region *r = arg;
	struct delta_local *l = r->priv;
	while (!l->stop) {
		for (uint64_t t = 0; t < l->cfg.poll_ns && !l->stop; t += BG_STEP_NS) {
			uint64_t step = l->cfg.poll_ns - t < BG_STEP_NS ? l->cfg.poll_ns - t : BG_STEP_NS;
			usleep((useconds_t)(step / 1000));
		}
		if (l->stop)
			break;
		struct err e = {0};
		pthread_mutex_lock(&l->mu);
		if (delta_cycle_locked(l, r, &e) && e.code != ESRCH) /* ESRCH: the workload is gone (teardown) */
			log_warn("delta: background cycle: %s", e.msg);
		pthread_mutex_unlock(&l->mu);
	}
	return NULL;
}

/* Create the file, connect to the destination, start background cycles. */
static int delta_open(const struct scenario *sc, struct region *r, struct err *e)
{
	struct delta_local *l = calloc(1, sizeof *l);
	if (!l)
		return err_set(e, "out of memory");
	r->priv = l;
	l->fd = -1;
	delta_pagemap_init(&l->pm);
	pthread_mutex_init(&l->mu, NULL);
	if (delta_cfg_parse(sc, &l->cfg, e))
		return -1;
	snprintf(r->path, sizeof r->path, "%s/delta-region", sc->workdir);
	r->kind = REGION_FILE;
	if (delta_fill_file(r->path, sc, INITIAL_SAME, e))
		return -1;
	l->fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (l->fd < 0)
		return err_errno(e, errno, "cannot open %s", r->path);
	if (delta_local_remap(l, r->path, e))
		return -1;
	if (l->cfg.dirty == DIRTY_PAGEMAP) {
		char why[256];
		if (delta_pagemap_supported(why, sizeof why))
			r->uffd_register_wp = 1;
		else
			log_warn("delta: dirty=pagemap unsupported here (%s); falling back to dirty=hash", why);
	}
	int migrating = sc->mode == MODE_MIGRATE;
	const char *to = migrating ? sc->third_addr : sc->remote_addr;
	int port = migrating ? sc->mig_port : sc->port;
	if (delta_sender_init(&l->snd, to, port, (uint32_t)l->cfg.chunk, l->cfg.algo, (unsigned)l->cfg.mode,
			      (unsigned)l->cfg.workers, e))
		return -1;
	l->snd.sec = l->cfg.sec;
	struct stat st;
	if (fstat(l->fd, &st))
		return err_errno(e, errno, "fstat %s", r->path);
	l->snd.file_mode = (uint16_t)(st.st_mode & DELTA_FILE_MODE_MASK); /* a copy the destination creates gets it */
	if (migrating)
		return 0; /* migrate_source() connects to the destination */
	/* Initial sync: hash exchange, then send whatever the destination lacks
	 * (nothing for initial=same). Counters start after it. */
	if (delta_cycle_locked(l, r, e))
		return -1;
	log_debug("delta: initial sync sent %llu chunks (%llu bytes), hash exchange %llu bytes",
		  (unsigned long long)l->snd.last_chunks, (unsigned long long)l->snd.last_bytes,
		  (unsigned long long)l->snd.hash_wire);
	l->bytes_pushed = l->chunks_dirty = 0;
	r->bytes_pushed = r->chunks_dirty = 0;
	if (l->cfg.poll_ns) {
		if (pthread_create(&l->bg, NULL, delta_bg, r))
			return err_set(e, "cannot start the background sync thread");
		l->bg_running = 1;
	}
	return 0;
}

/* Take over the workload's write-tracking uffd; arm tracking. */
static int delta_attach(struct region *r, struct err *e)
{
	struct delta_local *l = r->priv;
	int uffd = r->uffd;
	r->uffd = -1;
	uint64_t n = (l->mapsize + l->cfg.chunk - 1) / l->cfg.chunk;
	l->dirty = calloc(n ? n : 1, 1);
	if (!l->dirty) {
		close(uffd);
		return err_set(e, "out of memory");
	}
	pthread_mutex_lock(&l->mu);
	int rc = delta_pagemap_open(&l->pm, uffd, r->workload_pid, (uintptr_t)r->addr, r->size,
				    (uint32_t)l->cfg.chunk, e);
	l->tracking = rc == 0;
	pthread_mutex_unlock(&l->mu);
	if (!rc)
		log_debug("delta: dirty tracking armed on pid %d (%llu bytes)", r->workload_pid,
			  (unsigned long long)r->size);
	return rc;
}

/* Push every change now. */
static int delta_sync(struct region *r, struct err *e)
{
	struct delta_local *l = r->priv;
	pthread_mutex_lock(&l->mu);
	int rc = delta_cycle_locked(l, r, e);
	pthread_mutex_unlock(&l->mu);
	log_debug("delta: sync: %llu chunks, %llu bytes, hash %.3f ms, wire %llu, cycles %llu, scan %.3f ms",
		  (unsigned long long)l->snd.last_chunks, (unsigned long long)l->snd.last_bytes,
		  (double)l->snd.last_hash_ns / 1e6, (unsigned long long)l->snd.last_wire,
		  (unsigned long long)l->cycles, (double)l->pm.scan_ns / 1e6);
	return rc;
}

/* Stop and free the local side. */
static void delta_close(struct region *r)
{
	struct delta_local *l = r->priv;
	if (!l)
		return;
	l->stop = 1;
	if (l->bg_running)
		pthread_join(l->bg, NULL);
	delta_sender_free(&l->snd);
	if (l->map && l->mapsize)
		munmap((void *)l->map, l->mapsize);
	if (l->fd >= 0)
		close(l->fd);
	delta_pagemap_close(&l->pm);
	if (r->uffd >= 0)
		close(r->uffd);
	free(l->dirty);
	pthread_mutex_destroy(&l->mu);
	free(l);
	r->priv = NULL;
	if (r->path[0])
		unlink(r->path);
}

/* ---- migration ------------------------------------------------------------ */

struct delta_dest {
	int is_dest;
	struct delta_store store;
};

/* Destination (host 2): a receiver into a file the destination workload maps. */
static int delta_migrate_dest(const struct scenario *sc, struct region *r, struct err *e)
{
	struct delta_dest *d = calloc(1, sizeof *d);
	if (!d)
		return err_set(e, "out of memory");
	d->is_dest = 1;
	r->priv = d;
	snprintf(r->path, sizeof r->path, "%s/delta-migrate-dest", sc->workdir);
	r->kind = REGION_FILE;
	unlink(r->path);
	int port = sc->mig_port;
	struct delta_cfg cfg;
	if (delta_cfg_parse(sc, &cfg, e) || delta_store_open(&d->store, r->path, sc->size, e))
		return -1;
	d->store.sec = cfg.sec;
	return delta_store_listen(&d->store, sc->third_addr, &port, e);
}

/* Pre-copy: cycles while the writer runs, then suspend and a final cycle. */
static int delta_migrate_source(struct region *r, struct migration *m, struct err *e)
{
	struct delta_local *l = r->priv;
	pthread_mutex_lock(&l->mu);
	int rc = 0;
	uint64_t n = (l->mapsize + l->cfg.chunk - 1) / l->cfg.chunk;
	uint8_t *sent = calloc(n ? n : 1, 1);
	if (!sent) {
		pthread_mutex_unlock(&l->mu);
		return err_set(e, "out of memory");
	}
	uint64_t prev_chunks = UINT64_MAX, stalled = 0;
	for (int final = 0; final < 2 && !rc; final++) {
		for (;;) {
			uint64_t before = l->bytes_pushed;
			if (delta_cycle_locked(l, r, e)) {
				rc = -1;
				break;
			}
			m->rounds++;
			m->bytes_moved += l->bytes_pushed - before;
			/* Resent: chunks of this round already sent in an earlier one. */
			for (uint64_t i = 0; i < n && l->snd.last_mask && i < l->snd.last_n; i++) {
				if (!l->snd.last_mask[i])
					continue;
				if (sent[i])
					m->bytes_resent += i == n - 1 && l->mapsize % l->cfg.chunk ? l->mapsize % l->cfg.chunk
												 : l->cfg.chunk;
				sent[i] = 1;
			}
			log_debug("delta migrate: round %llu sent %llu chunks", (unsigned long long)m->rounds,
				  (unsigned long long)l->snd.last_chunks);
			/* Converged: few dirty chunks, no progress for two rounds, or the round limit. */
			stalled = l->snd.last_chunks >= prev_chunks ? stalled + 1 : 0;
			prev_chunks = l->snd.last_chunks;
			if (final || l->snd.last_chunks <= l->cfg.mig_max_dirty || stalled >= 2 ||
			    m->rounds >= l->cfg.mig_max_rounds)
				break;
		}
		if (!rc && !final && m->suspend_source(m, e))
			rc = -1;
	}
	free(sent);
	if (!rc)
		delta_sender_disconnect(&l->snd, 1);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* Close either side (the destination keeps nothing after its run). */
static void delta_close_any(struct region *r)
{
	struct delta_local *l = r->priv;
	if (l && l->is_dest) {
		struct delta_dest *d = r->priv;
		delta_store_stop(&d->store);
		delta_store_close(&d->store);
		free(d);
		r->priv = NULL;
		unlink(r->path);
		return;
	}
	delta_close(r);
}

const struct approach_ops delta_ops = {
	.name = "delta",
	.summary = "mmap(MAP_SHARED) file + polling chunk-hash delta push (hub fan-out, pagemap dirty tracking, pre-copy)",
	.caps = CAP_READ | CAP_WRITE | CAP_REMOTE | CAP_MIGRATE,
	.options = delta_options,
	.check_options = delta_check_options,
	.serve = delta_serve,
	.remote_read = delta_remote_read,
	.serve_stop = delta_serve_stop,
	.open = delta_open,
	.attach = delta_attach,
	.sync = delta_sync,
	.close = delta_close_any,
	.migrate_dest = delta_migrate_dest,
	.migrate_source = delta_migrate_source,
};
