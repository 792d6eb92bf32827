/*
 * fuse_local.c - the fuse approach's local side, shared by the access path
 * (fuse.c), migration (fuse_migrate.c) and the remote side (fuse_remote.c):
 * the options parsed, a new local side, and its mount over the data path.
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

/* A number option within [lo, hi]. */
static int opt_range(const struct scenario *sc, const char *key, uint64_t def, uint64_t lo, uint64_t hi, int *out,
		     struct err *e)
{
	uint64_t v;
	if (scenario_opt_uint(sc, key, def, &v, e))
		return -1;
	if (v < lo || v > hi)
		return err_set(e, "option %s=%s: expected %" PRIu64 "..%" PRIu64, key, scenario_opt(sc, key, ""), lo,
			       hi);
	*out = (int)v;
	return 0;
}

/* A size option within [lo, hi], a multiple of 4 KiB (a power of two if pow2). */
static int opt_bytes(const struct scenario *sc, const char *key, uint64_t def, uint64_t lo, uint64_t hi, int pow2,
		     uint64_t *out, struct err *e)
{
	if (scenario_opt_size(sc, key, def, out, e))
		return -1;
	uint64_t v = *out;
	if ((v || lo) && (v < lo || v > hi || v % 4096 || (pow2 && (v & (v - 1)))))
		return err_set(e, "option %s=%s: expected %s4k..%" PRIu64 "k%s", key, scenario_opt(sc, key, ""),
			       lo ? "" : "0 or ", hi / 1024, pow2 ? ", a power of two" : " in multiples of 4k");
	return 0;
}

/* order=linear|header-first|follow|list:FILE */
static int opt_order(const struct scenario *sc, struct fuse_cfg *c, struct err *e)
{
	const char *v = scenario_opt(sc, "order", "linear");
	static const char *const names[] = {"linear", "header-first", "follow", NULL};
	static const enum managed_order orders[] = {MANAGED_ORDER_LINEAR, MANAGED_ORDER_HEADER_FIRST,
						    MANAGED_ORDER_FOLLOW};
	if (!strncmp(v, "list:", 5) && v[5]) {
		c->order = MANAGED_ORDER_LIST;
		snprintf(c->order_file, sizeof c->order_file, "%s", v + 5);
		return 0;
	}
	for (int i = 0; names[i]; i++)
		if (!strcmp(v, names[i])) {
			c->order = orders[i];
			return 0;
		}
	return err_set(e, "option order=%s: expected one of linear, header-first, follow, list:FILE", v);
}

/* Parse and check every option. */
int fuse_cfg_parse(const struct scenario *sc, struct fuse_cfg *c, struct err *e)
{
	static const char *const mounts[] = {"direct", "managed", NULL};
	static const char *const prefetches[] = {"off", "readahead", "notify_store", NULL};
	static const char *const splices[] = {"off", "reply", "all", NULL};
	static const char *const caches[] = {"memory", "file", NULL};
	memset(c, 0, sizeof *c);
	if (scenario_opt_enum(sc, "mount", mounts, 1, &c->managed, e) ||
	    scenario_opt_enum(sc, "prefetch", prefetches, FUSE_PREFETCH_READAHEAD, &c->prefetch, e) ||
	    opt_bytes(sc, "chunk", 1 << 20, 4096, 1 << 20, 1, &c->chunk, e) ||
	    opt_range(sc, "inflight", 16, 1, 4096, &c->inflight, e) || opt_range(sc, "conns", 4, 1, 16, &c->conns, e) ||
	    opt_order(sc, c, e) || scenario_opt_duration(sc, "push_interval", 0, &c->push_interval_ns, e) ||
	    scenario_opt_enum(sc, "cache", caches, 0, &c->cache_file, e) ||
	    opt_range(sc, "threads", 16, 1, 256, &c->threads, e) ||
	    scenario_opt_bool(sc, "clone_fd", 1, &c->clone_fd, e) ||
	    opt_bytes(sc, "max_io", FUSEFS_MAX_IO, 4096, FUSEFS_MAX_IO, 0, &c->max_io, e) ||
	    opt_range(sc, "max_background", 64, 1, 65535, &c->max_background, e) ||
	    opt_bytes(sc, "ra", 8 << 20, 0, 1ull << 30, 0, &c->ra, e) ||
	    scenario_opt_enum(sc, "splice", splices, FUSEFS_SPLICE_REPLY, &c->splice, e) ||
	    scenario_opt_bool(sc, "writeback", 1, &c->writeback, e) ||
	    scenario_opt_duration(sc, "retry", 10000000000ull, &c->retry_ns, e) ||
	    scenario_opt_duration(sc, "timeout", 15000000000ull, &c->timeout_ns, e) ||
	    scenario_opt_bool(sc, "notify", 1, &c->notify, e) ||
	    scenario_opt_bool(sc, "demand_conn", 1, &c->demand_conn, e) ||
	    opt_bytes(sc, "server_chunk", 0, 0, 32 << 20, 0, &c->server_chunk, e) ||
	    scenario_opt_bool(sc, "wait_pull", 0, &c->wait_pull, e))
		return -1;
	if (!c->timeout_ns)
		return err_set(e, "option timeout=%s: must be more than 0", scenario_opt(sc, "timeout", ""));
	const char *uri = scenario_opt(sc, "remote", "");
	if (*uri && strncmp(uri, "nbd://", 6) && strncmp(uri, "nbds://", 7) && strncmp(uri, "nbd+unix://", 11) &&
	    strncmp(uri, "nbds+unix://", 12))
		return err_set(e, "option remote=%s: expected an NBD URI (nbd://HOST:PORT/NAME, nbd+unix:///NAME?socket=PATH)",
			       uri);
	snprintf(c->remote, sizeof c->remote, "%s", uri);
	return 0;
}

/* ---- the local side -------------------------------------------------------- */

/* Keep the record's counters fresh (the harness reads them after each command). */
static void *stats_run(void *arg)
{
	struct fuse_local *l = arg;
	while (!atomic_load(&l->stopping)) {
		fuse_data_counters(l);
		struct timespec ts = {0, 50000000L};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* A new local side with its options parsed. */
struct fuse_local *fuse_local_new(const struct scenario *sc, struct region *r, struct err *e)
{
	if (!remote_available())
		return err_set(e, "fuse needs libnbd (not found at build time)"), NULL;
	struct fuse_local *l = calloc(1, sizeof *l);
	if (!l)
		return err_errno(e, ENOMEM, "fuse"), NULL;
	l->sc = sc;
	l->r = r;
	l->size = sc->size;
	pthread_mutex_init(&l->err_mu, NULL);
	if (fuse_cfg_parse(sc, &l->cfg, e)) {
		pthread_mutex_destroy(&l->err_mu);
		free(l);
		return NULL;
	}
	return l;
}

/* Mount the file at workdir/dirname over the data path, start the helpers. */
int fuse_local_mount(struct fuse_local *l, const char *dirname, struct err *e)
{
	snprintf(l->mnt, sizeof l->mnt, "%s/%s", l->sc->workdir, dirname);
	if (mkdir(l->mnt, 0700) && errno != EEXIST)
		return err_errno(e, errno, "fuse: cannot create %s", l->mnt);
	struct fusefs_opts fo = {
		.mountpoint = l->mnt,
		.size = l->size,
		.chunk = l->cfg.chunk,
		.max_io = l->cfg.max_io,
		.threads = l->cfg.threads,
		.clone_fd = l->cfg.clone_fd,
		.max_background = l->cfg.max_background,
		.readahead = l->cfg.prefetch == FUSE_PREFETCH_OFF ? 0 : l->cfg.ra,
		.splice = l->cfg.splice,
		.writeback = l->cfg.writeback,
		.io = fuse_data_io(l),
	};
	if (!(l->fs = fusefs_mount(&fo, e)))
		return -1;
	if (l->pf && fuse_prefetch_begin(l->pf, e))
		return -1;
	if (pthread_create(&l->stats_thread, NULL, stats_run, l))
		return err_set(e, "fuse: cannot start the counter thread");
	l->stats_started = 1;
	if (l->r) {
		l->r->kind = REGION_FILE;
		snprintf(l->r->path, sizeof l->r->path, "%s", fusefs_path(l->fs));
	}
	return 0;
}
