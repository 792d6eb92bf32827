/*
 * fuse.c - the `fuse` approach: the region is one file of a FUSE file
 * system served by a libfuse3 low-level daemon in the local process; the
 * workload maps it MAP_SHARED.
 *
 *   mount=direct   every READ/WRITE the kernel sends is a request to the
 *                  remote (the thesis's direct mount);
 *   mount=managed  through the managed engine: a local cache filled by a
 *                  background pull, writes kept local and pushed on FSYNC;
 *   prefetch       off | readahead (a large kernel readahead window, and the
 *                  engine's background pull) | notify_store (also store
 *                  every pulled chunk into the page cache);
 *   writes         writeback cache; msync/fsync arrive as WRITE + FSYNC;
 *                  sync() makes every write durable on the remote;
 *   remote changes announced by the remote side are invalidated and
 *                  refetched (fuse_remote.c); migration in fuse_migrate.c.
 * See approaches/fuse/README.md.
 */
#include "fuse_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#ifdef MEMSYNC_HAVE_FUSE3
#define FUSE_UNSUPPORTED NULL
#else
#define FUSE_UNSUPPORTED "built without libfuse3 (install libfuse3-dev, rebuild)"
#endif

static const struct approach_opt fuse_options[] = {
	{"mount", "managed", "managed (local cache, background pull, writes pushed on fsync) | direct (every "
			     "READ/WRITE goes to the remote)"},
	{"prefetch", "readahead", "off | readahead (kernel readahead window `ra`; managed: background pull) | "
				  "notify_store (also store each pulled chunk into the page cache)"},
	{"chunk", "1m", "engine chunk, store and tracking unit (4k..1m, a power of two)"},
	{"inflight", "16", "background pull and push requests in flight (direct notify_store: chunks per batch, "
			   "at most 16)"},
	{"conns", "4", "NBD connections to the remote (1..16)"},
	{"demand_conn", "on", "managed: demand fetches on a connection of their own (off: behind the pull's requests)"},
	{"order", "linear", "background pull order: linear | header-first | follow | list:FILE"},
	{"push_interval", "0", "managed: also push dirty chunks this often (0 = only on fsync/sync)"},
	{"cache", "memory", "managed: the local cache in memory | file (under the scenario's workdir)"},
	{"threads", "16", "FUSE worker threads (most, 1..256)"},
	{"clone_fd", "on", "one /dev/fuse descriptor per worker thread"},
	{"max_io", "1m", "max_read/max_write, and so max_pages (4k..1m)"},
	{"max_background", "64", "kernel background requests in flight (readahead, writeback; 1..65535)"},
	{"ra", "8m", "the mount's bdi read_ahead_kb with prefetch=readahead|notify_store (0 = the kernel's)"},
	{"splice", "reply", "off | reply (READ replies and stores spliced) | all (also requests)"},
	{"writeback", "on", "FUSE writeback cache (off: write-through)"},
	{"retry", "10s", "a failed remote read or write is retried this long, then fails (EIO, SIGBUS)"},
	{"timeout", "15s", "direct: a remote request unanswered this long counts as failed"},
	{"remote", "", "use this NBD server as the remote (nbd://HOST:PORT/NAME; the remote side fills it with "
		       "version 0) instead of memsync's own"},
	{"notify", "on", "follow the remote side's change notices (invalidate and refetch changed ranges)"},
	{"server_chunk", "0", "the remote side's server splits requests into chunks of this size (0 = whole "
			      "requests): chunking on the remote side, next to `chunk` on the local side"},
	{"wait_pull", "off", "managed: open() returns once the background pull (and notify_store) is done, so "
			     "the workload measures the filled cache / page cache"},
	{NULL, NULL, NULL},
};

/* ---- options ------------------------------------------------------------- */

/* Harness hook: check the options before any scenario runs (exit 2). */
static int fuse_check_options(const struct scenario *sc, struct err *e)
{
	struct fuse_cfg c;
	return fuse_cfg_parse(sc, &c, e);
}

/* Stop and free everything (safe on a partly set up side). */
void fuse_local_free(struct fuse_local *l)
{
	if (!l)
		return;
	atomic_store(&l->stopping, 1);
	if (l->stats_started)
		pthread_join(l->stats_thread, NULL);
	fuse_watch_stop(l->watch);
	fuse_prefetch_stop(l->pf); /* the thread; the engine may still call on_pulled */
	fuse_mig_stop(l);
	if (l->fs) {
		struct fusefs_stats s;
		fusefs_stats(l->fs, &s);
		log_debug("fuse: %" PRIu64 " READs (%" PRIu64 " bytes), %" PRIu64 " WRITEs (%" PRIu64 " bytes), %" PRIu64
			  " FSYNCs, %" PRIu64 " errors; %" PRIu64 " chunks stored, %" PRIu64 " skipped (seen), %" PRIu64
			  " stores fenced off by a READ; %" PRIu64 " invalidations",
			  s.reads, s.read_bytes, s.writes, s.write_bytes, s.fsyncs, s.errors, s.stores, s.store_skips,
			  s.store_fences, s.invalidations);
	}
	fusefs_unmount(l->fs);
	l->fs = NULL;
	fuse_data_fini(l);
	fuse_prefetch_free(l->pf);
	free(l->tracked);
	pthread_mutex_destroy(&l->err_mu);
	free(l);
}

/* wait_pull: until the engine holds the region and notify_store stored it. */
static int fuse_wait_pulled(struct fuse_local *l, struct err *e)
{
	if (!l->mg)
		return err_set(e, "fuse: wait_pull needs mount=managed");
	if (l->cfg.prefetch == FUSE_PREFETCH_OFF)
		return err_set(e, "fuse: wait_pull needs a background pull (prefetch=readahead|notify_store)");
	if (managed_wait_pulled(l->mg, -1, e))
		return -1;
	return l->pf ? fuse_prefetch_wait(l->pf, e) : 0;
}

/* Local process: connect, start the engine, mount, follow changes. A
 * failure leaves what was set up in r->priv for close() (approach.h). */
static int fuse_open(const struct scenario *sc, struct region *r, struct err *e)
{
	struct fuse_local *l = fuse_local_new(sc, r, e);
	if (!(r->priv = l))
		return -1;
	fusefs_cleanup_stale();
	if (l->cfg.remote[0])
		snprintf(l->uri, sizeof l->uri, "%s", l->cfg.remote);
	else
		snprintf(l->uri, sizeof l->uri, "nbd://%s:%d/", sc->remote_addr, sc->port);
	int migrating = sc->mode == MODE_MIGRATE;
	l->is_source = migrating;
	if (migrating && !l->cfg.managed &&
	    !(l->tracked = calloc((sc->size + l->cfg.chunk - 1) / l->cfg.chunk, 1)))
		return err_errno(e, ENOMEM, "fuse: tracking");
	if (l->cfg.prefetch == FUSE_PREFETCH_STORE && !(l->pf = fuse_prefetch_new(l, e)))
		return -1;
	if (fuse_data_init(l, e))
		return -1;
	if (migrating && l->mg)
		managed_track_start(l->mg); /* before any write: the pull begins with the region */
	if (fuse_local_mount(l, "fuse-local", e))
		return -1;
	if (l->cfg.notify && !l->cfg.remote[0] && !migrating && sc->ctl_port > 0 && !(l->watch = fuse_watch_start(l, e)))
		return -1;
	if (migrating && fuse_mig_source_start(l, e))
		return -1;
	return l->cfg.wait_pull ? fuse_wait_pulled(l, e) : 0;
}

/* Local process: every write the workload made durable on the remote. */
static int fuse_sync(struct region *r, struct err *e)
{
	struct fuse_local *l = r->priv;
	if (fuse_failed(l, e))
		return -1;
	/* The workload's msync has sent its dirty pages and FSYNC (engine push
	 * or NBD flush) already; this process never opens its own file (see
	 * fuse_fs.h), so here: flush once more, and fail if any write failed. */
	if (fuse_data_flush(l, e))
		return -1;
	if (atomic_load(&l->write_failed))
		return err_set(e, "fuse: a write to the remote failed earlier; not everything is synced");
	fuse_data_counters(l);
	return 0;
}

/* Local process: unmount and stop. */
static void fuse_close(struct region *r)
{
	struct fuse_local *l = r->priv;
	r->priv = NULL;
	if (l)
		fuse_data_counters(l);
	fuse_local_free(l);
}

/* Can it run here? */
static int fuse_probe(struct err *e)
{
	if (!remote_available())
		return err_set(e, "fuse needs libnbd (not found at build time)");
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno, "fuse: cannot open /dev/fuse (no FUSE in this kernel, or no permission)");
	close(fd);
	return 0;
}

/* Any process: lazily unmount what killed runs left mounted. */
static void fuse_cleanup_stale(void)
{
	fusefs_cleanup_stale();
}

const struct approach_ops fuse_ops = {
	.name = "fuse",
	.summary = "libfuse3 file mapped MAP_SHARED: direct or managed mount, notify_store prefetch, writeback push, "
		   "remote-change invalidation, two-phase migration",
	.caps = CAP_READ | CAP_WRITE | CAP_REMOTE | CAP_MIGRATE,
	.unsupported = FUSE_UNSUPPORTED,
	.options = fuse_options,
	.probe = fuse_probe,
	.check_options = fuse_check_options,
	.serve = fuse_serve,
	.remote_read = fuse_remote_read,
	.serve_stop = fuse_serve_stop,
	.open = fuse_open,
	.sync = fuse_sync,
	.close = fuse_close,
	.cleanup_stale = fuse_cleanup_stale,
	.migrate_dest = fuse_migrate_dest,
	.migrate_source = fuse_migrate_source,
};
