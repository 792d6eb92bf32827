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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "approach.h"
#include "delta_engine.h"
#include "clock.h"
#include "io.h"
#include "log.h"
#include "uapi_compat.h"

static const struct approach_opt delta_options[] = {
	{"chunk", "4k", "chunk size, a power of two from 4k to 1M (4k: no amplification of scattered 4 KiB writes)"},
	{"workers", "2", "hashing threads"},
	{"hash", "xxh3", "chunk hash: xxh3, xxh128, xxh64, crc32, adler32"},
	{"mode", "chunks", "chunks (per-chunk hashes) or whole-file (one hash, resend everything on change)"},
	{"poll_interval", "0", "ms between background cycles while the workload runs; 0 = only on sync()"},
	{"dirty", "hash", "dirty detection: hash (hash every chunk) or pagemap (uffd async WP + PAGEMAP_SCAN)"},
	{"initial", "same", "destination's initial copy: same (version 0), empty (zeros), stale (10% of blocks differ)"},
	{"dests", "0", "0: push to one receiver; N: push to a hub on host 1 that fans out to N destinations"},
	{"late_join_ms", "0", "hub: the last destination joins this many ms after the others"},
	{"tls", "off", "off; psk: TLS 1.3 with a pre-shared key (derived per scenario) on every connection; "
		       "x509: mutual TLS 1.3 with certificates from tls_dir (every leg, hub included)"},
	{"tls_dir", "", "tls=x509: directory with ca-cert.pem, server-{cert,key}.pem, client-{cert,key}.pem"},
	{"fault_drop", "0", "test hook: the receiver drops the connection after N chunks of a cycle, once"},
	{"mig_max_dirty", "16", "migration: stop pre-copy when a round sends at most this many chunks"},
	{"mig_max_rounds", "30", "migration: at most this many pre-copy rounds"},
	{NULL, NULL, NULL},
};

/* Options shared by both sides. */
struct delta_cfg {
	uint64_t chunk, workers, poll_ms, dests, late_ms, fault_drop, mig_max_dirty, mig_max_rounds;
	unsigned algo, mode, pagemap, initial; /* initial: 0 same, 1 empty, 2 stale */
	struct delta_tls sec;
};

/* Parse and check the options. */
static int delta_cfg_parse(const struct scenario *sc, struct delta_cfg *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	if (scenario_opt_size(sc, "chunk", 4 << 10, &c->chunk, e) || scenario_opt_uint(sc, "workers", 2, &c->workers, e) ||
	    scenario_opt_uint(sc, "poll_interval", 0, &c->poll_ms, e) || scenario_opt_uint(sc, "dests", 0, &c->dests, e) ||
	    scenario_opt_uint(sc, "late_join_ms", 0, &c->late_ms, e) ||
	    scenario_opt_uint(sc, "fault_drop", 0, &c->fault_drop, e) ||
	    scenario_opt_uint(sc, "mig_max_dirty", 16, &c->mig_max_dirty, e) ||
	    scenario_opt_uint(sc, "mig_max_rounds", 30, &c->mig_max_rounds, e))
		return -1;
	if (c->chunk < DELTA_MIN_CHUNK || c->chunk > DELTA_MAX_CHUNK || (c->chunk & (c->chunk - 1)))
		return err_set(e, "delta: chunk must be a power of two from 4k to 1M, not %llu", (unsigned long long)c->chunk);
	if (c->workers < 1 || c->workers > 64)
		return err_set(e, "delta: workers must be 1..64");
	if (c->dests > 16)
		return err_set(e, "delta: dests must be 0..16");
	const char *h = scenario_opt(sc, "hash", "xxh3");
	if (!(c->algo = delta_algo_parse(h)))
		return err_set(e, "delta: unknown hash '%s' (xxh3, xxh128, xxh64, crc32, adler32)", h);
	const char *m = scenario_opt(sc, "mode", "chunks");
	if (!strcmp(m, "chunks"))
		c->mode = 0;
	else if (!strcmp(m, "whole-file"))
		c->mode = 1;
	else
		return err_set(e, "delta: mode must be chunks or whole-file, not '%s'", m);
	const char *d = scenario_opt(sc, "dirty", "hash");
	if (!strcmp(d, "hash"))
		c->pagemap = 0;
	else if (!strcmp(d, "pagemap"))
		c->pagemap = 1;
	else
		return err_set(e, "delta: dirty must be hash or pagemap, not '%s'", d);
	if (c->pagemap && c->mode)
		return err_set(e, "delta: dirty=pagemap needs mode=chunks");
	const char *t = scenario_opt(sc, "tls", "off");
	if (!strcmp(t, "psk")) {
		if (!delta_tls_available())
			return err_set(e, "delta: tls=psk needs a build with GnuTLS");
		/* Both sides derive the same per-scenario key. */
		char seedstr[PATH_MAX + 64];
		snprintf(seedstr, sizeof seedstr, "memsync-delta:%s:%llu", sc->workdir, (unsigned long long)sc->seed);
		delta_hash_t k1, k2;
		delta_hash(DELTA_XXH128, seedstr, strlen(seedstr), &k1);
		delta_hash(DELTA_XXH128, &k1, sizeof k1, &k2);
		memcpy(c->sec.key, k1.b, 16);
		memcpy(c->sec.key + 16, k2.b, 16);
		c->sec.len = 32;
	} else if (!strcmp(t, "x509")) {
		if (!delta_tls_available())
			return err_set(e, "delta: tls=x509 needs a build with GnuTLS");
		const char *dir = scenario_opt(sc, "tls_dir", "");
		if (!dir[0])
			return err_set(e, "delta: tls=x509 needs -o tls_dir=DIR (ca-cert.pem, server-cert.pem, "
					  "server-key.pem, client-cert.pem, client-key.pem; see approaches/delta/README.md)");
		if (strlen(dir) >= sizeof c->sec.x509_dir)
			return err_set(e, "delta: tls_dir is too long");
		if (delta_tls_check_dir(dir, e))
			return -1;
		snprintf(c->sec.x509_dir, sizeof c->sec.x509_dir, "%s", dir);
	} else if (strcmp(t, "off")) {
		return err_set(e, "delta: tls must be off, psk or x509, not '%s'", t);
	}
	const char *i = scenario_opt(sc, "initial", "same");
	if (!strcmp(i, "same"))
		c->initial = 0;
	else if (!strcmp(i, "empty"))
		c->initial = 1;
	else if (!strcmp(i, "stale"))
		c->initial = 2;
	else
		return err_set(e, "delta: initial must be same, empty or stale, not '%s'", i);
	return 0;
}

/* content_write_fd() edit: make every tenth block (block % 10 == 3) stale. */
static void delta_make_stale(void *buf, uint64_t off, size_t len, void *arg)
{
	const struct scenario *sc = arg;
	for (size_t b = 0; b + CONTENT_BLOCK <= len; b += CONTENT_BLOCK)
		if (((off + b) / CONTENT_BLOCK) % 10 == 3)
			content_fill_block(sc->seed ^ 0x5eed, (off + b) / CONTENT_BLOCK, 7, (char *)buf + b);
}

/* Write a file's initial content: version 0, zeros, or version 0 with 10 % stale blocks. */
static int delta_fill_file(const char *path, const struct scenario *sc, unsigned initial, struct err *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_errno(e, errno, "cannot create %s", path);
	int rc = 0;
	if (ftruncate(fd, (off_t)sc->size))
		rc = err_errno(e, errno, "cannot size %s", path);
	struct content_model m = {.seed = sc->seed, .size = sc->size, .versions = NULL};
	if (!rc && initial != 1)
		rc = content_write_fd(&m, fd, initial == 2 ? delta_make_stale : NULL, (void *)sc, e);
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
	unsigned initial;
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
				       (unsigned)d->cfg.late_ms, delta_tls_on(&d->cfg.sec) ? &d->cfg.sec : NULL, delta_prepare, &p, e);
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
	/* pagemap dirty tracking */
	int tracking, pm_fd, uffd;
	uint64_t wl_addr, wl_size;
	uint8_t *dirty;
	struct page_region *vec;
	uint64_t bytes_pushed, chunks_dirty, cycles, scan_ns;
};

/* Can this kernel do async write-protect tracking? (UFFDIO_API feature bits) */
static int delta_pagemap_supported(char *why, size_t wlen)
{
	int uffd = userfaultfd_open();
	if (uffd < 0) {
		snprintf(why, wlen, "userfaultfd() failed: %s", strerror(errno));
		return 0;
	}
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	int ok = ioctl(uffd, UFFDIO_API, &api) == 0;
	close(uffd);
	if (!ok) {
		snprintf(why, wlen, "UFFDIO_API failed: %s", strerror(errno));
		return 0;
	}
	uint64_t need = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	if ((api.features & need) != need) {
		snprintf(why, wlen, "the kernel lacks UFFD_FEATURE_WP_ASYNC/WP_UNPOPULATED (Linux 6.7+)");
		return 0;
	}
	return 1;
}

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

/* PAGEMAP_SCAN: collect the chunks the workload wrote since the last scan,
 * and write-protect them again (atomically, in the kernel). */
static int delta_scan(struct delta_local *l, uint64_t nchunks, struct err *e)
{
	memset(l->dirty, 0, nchunks ? nchunks : 1);
	uint64_t start = l->wl_addr, end = l->wl_addr + l->wl_size;
	uint64_t t0 = now_ns();
	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof a,
			.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = start,
			.end = end,
			.vec = (uintptr_t)l->vec,
			.vec_len = 1024,
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN,
		};
		long n = ioctl(l->pm_fd, PAGEMAP_SCAN, &a);
		if (n < 0)
			return err_errno(e, errno, "PAGEMAP_SCAN on the workload's mapping failed");
		for (long i = 0; i < n; i++) {
			uint64_t s = l->vec[i].start - l->wl_addr, t = l->vec[i].end - l->wl_addr;
			for (uint64_t c = s / l->cfg.chunk; c <= (t - 1) / l->cfg.chunk && c < nchunks; c++)
				l->dirty[c] = 1;
		}
		if (a.walk_end <= start)
			break;
		start = a.walk_end;
	}
	l->scan_ns += now_ns() - t0;
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
		if (delta_scan(l, n, e))
			return -1;
	}
	struct delta_view v = {.base = l->map, .size = l->mapsize};
	struct err last = {0};
	for (int attempt = 0; attempt < 4; attempt++) {
		int full = !l->snd.connected;
		if (!l->snd.connected) {
			if (attempt)
				usleep(100000u << attempt);
			err_clear(&last);
			if (delta_sender_connect(&l->snd, l->mapsize, 10000, &last)) {
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
	return err_set(e, "delta: sync failed after 4 attempts: %s", last.msg);
}

/* Background cycles while the workload runs. */
static void *delta_bg(void *arg)
{
	struct region *r = arg;
	struct delta_local *l = r->priv;
	while (!l->stop) {
		for (uint64_t t = 0; t < l->cfg.poll_ms && !l->stop; t += 5)
			usleep(5000);
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
	l->fd = l->pm_fd = l->uffd = -1;
	pthread_mutex_init(&l->mu, NULL);
	if (delta_cfg_parse(sc, &l->cfg, e))
		return -1;
	snprintf(r->path, sizeof r->path, "%s/delta-region", sc->workdir);
	r->kind = REGION_FILE;
	if (delta_fill_file(r->path, sc, 0, e))
		return -1;
	l->fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (l->fd < 0)
		return err_errno(e, errno, "cannot open %s", r->path);
	if (delta_local_remap(l, r->path, e))
		return -1;
	if (l->cfg.pagemap) {
		char why[256];
		if (delta_pagemap_supported(why, sizeof why))
			r->uffd_register_wp = 1;
		else
			log_warn("delta: dirty=pagemap unsupported here (%s); falling back to dirty=hash", why);
	}
	int migrating = sc->mode == MODE_MIGRATE;
	const char *to = migrating ? sc->third_addr : sc->remote_addr;
	int port = migrating ? sc->mig_port : sc->port;
	if (delta_sender_init(&l->snd, to, port, (uint32_t)l->cfg.chunk, l->cfg.algo, l->cfg.mode,
			      (unsigned)l->cfg.workers, e))
		return -1;
	l->snd.sec = l->cfg.sec;
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
	if (l->cfg.poll_ms) {
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
	l->uffd = r->uffd;
	r->uffd = -1;
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/pagemap", r->workload_pid);
	l->pm_fd = open(p, O_RDONLY | O_CLOEXEC);
	if (l->pm_fd < 0)
		return err_errno(e, errno, "cannot open %s", p);
	l->wl_addr = (uintptr_t)r->addr;
	l->wl_size = r->size;
	l->vec = calloc(1024, sizeof *l->vec);
	uint64_t n = (l->mapsize + l->cfg.chunk - 1) / l->cfg.chunk;
	l->dirty = calloc(n ? n : 1, 1);
	if (!l->vec || !l->dirty)
		return err_set(e, "out of memory");
	/* Arm: write-protect everything; pages written from now on are reported. */
	pthread_mutex_lock(&l->mu);
	int rc = delta_scan(l, n, e);
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
		  (unsigned long long)l->cycles, (double)l->scan_ns / 1e6);
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
	if (l->pm_fd >= 0)
		close(l->pm_fd);
	if (l->uffd >= 0)
		close(l->uffd);
	if (r->uffd >= 0)
		close(r->uffd);
	free(l->dirty);
	free(l->vec);
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
