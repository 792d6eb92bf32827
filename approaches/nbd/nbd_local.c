/*
 * nbd_local.c - the nbd approach's local side, shared by the access path
 * (nbd.c) and migration (nbd_migrate.c): the options parsed, a remote (or
 * the managed engine over it) mounted as /dev/nbdX, the engine's counters.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "nbd_int.h"

/* An integer option within [lo, hi]. */
static int opt_int(const struct scenario *sc, const char *key, int def, long lo, long hi, int *out, struct err *e)
{
	const char *v = scenario_opt(sc, key, NULL);
	if (!v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi)
		return err_set(e, "option %s=%s: must be an integer %ld .. %ld", key, v, lo, hi);
	*out = (int)x;
	return 0;
}

/* The kernel-side options. */
static int parse_kernel(const struct scenario *sc, struct nbd_cfg *c, struct err *e)
{
	static const char *const attach[] = {"auto", "netlink", "ioctl", NULL};
	static const char *const ready[] = {"uevent", "poll", NULL};
	int a, r;
	uint64_t bs, tmo;
	if (opt_int(sc, "conns", 4, 1, NBD_KERNEL_MAX_SOCKS, &c->mo.conns, e) ||
	    opt_int(sc, "server_workers", 0, 0, 64, &c->mo.server_workers, e) ||
	    opt_int(sc, "index", -1, -1, 1 << 20, &c->mo.dev.index, e) ||
	    scenario_opt_enum(sc, "attach", attach, 0, &a, e) || scenario_opt_enum(sc, "ready", ready, 0, &r, e) ||
	    scenario_opt_size(sc, "blksize", 4096, &bs, e) ||
	    scenario_opt_duration(sc, "timeout", 120000000000ull, &tmo, e))
		return -1;
	if (bs < 512 || bs > 4096 || (bs & (bs - 1)))
		return err_set(e, "option blksize=%llu: must be a power of two 512 .. 4096", (unsigned long long)bs);
	if (tmo < 1000000000ull)
		return err_set(e, "option timeout: at least 1s");
	c->mo.dev.attach = a == 1 ? NBD_ATTACH_NETLINK : a == 2 ? NBD_ATTACH_IOCTL : NBD_ATTACH_AUTO;
	c->mo.dev.ready = r ? NBD_READY_POLL : NBD_READY_UEVENT;
	c->mo.dev.blksize = bs;
	c->mo.dev.timeout_s = (int)(tmo / 1000000000ull);
	return 0;
}

/* The managed engine's options. */
static int parse_managed(const struct scenario *sc, struct nbd_cfg *c, struct err *e)
{
	static const char *const order[] = {"linear", "header-first", "follow", NULL};
	static const char *const cache[] = {"memory", "file", NULL};
	int o = 0, pull = 0;
	uint64_t chunk, push_ns, retry_ns;
	if (scenario_opt_size(sc, "chunk", 1 << 20, &chunk, e) || opt_int(sc, "pull_inflight", 16, 0, 4096, &pull, e) ||
	    scenario_opt_enum(sc, "order", order, 0, &o, e) || scenario_opt_enum(sc, "cache", cache, 0, &c->cache_file, e) ||
	    scenario_opt_duration(sc, "push_interval", 0, &push_ns, e) ||
	    scenario_opt_duration(sc, "retry", 10000000000ull, &retry_ns, e))
		return -1;
	if (chunk < 4096 || chunk > (1u << 20) || (chunk & (chunk - 1)))
		return err_set(e, "option chunk=%llu: must be a power of two 4k .. 1m", (unsigned long long)chunk);
	if (retry_ns < 1000000ull || retry_ns > 3600000000000ull)
		return err_set(e, "option retry: 1ms .. 1h");
	c->mgo.chunk_size = chunk;
	c->mgo.pull_inflight = pull ? pull : -1;
	c->mgo.order = o == 1 ? MANAGED_ORDER_HEADER_FIRST : o == 2 ? MANAGED_ORDER_FOLLOW : MANAGED_ORDER_LINEAR;
	c->mgo.push_interval_ns = push_ns;
	c->mgo.retry_ms = (int)(retry_ns / 1000000ull);
	return 0;
}

/* Parse and check every option. */
int nbd_parse_opts(const struct scenario *sc, struct nbd_cfg *c, struct err *e)
{
	static const char *const mount[] = {"managed", "direct", NULL};
	static const char *const precopy[] = {"wait", "none", NULL};
	int m, p;
	memset(c, 0, sizeof *c);
	if (scenario_opt_enum(sc, "mount", mount, 0, &m, e) || scenario_opt_enum(sc, "precopy", precopy, 0, &p, e) ||
	    opt_int(sc, "remote_conns", 4, 1, 16, &c->remote_conns, e) ||
	    scenario_opt_size(sc, "fault_seeder_kill", 0, &c->fault_seeder_kill, e) || parse_kernel(sc, c, e) ||
	    parse_managed(sc, c, e))
		return -1;
	c->mount = m ? NBD_MOUNT_DIRECT : NBD_MOUNT_MANAGED;
	c->precopy_wait = p == 0;
	const char *uri = scenario_opt(sc, "remote", "");
	if (strlen(uri) >= sizeof c->remote)
		return err_set(e, "option remote: URI too long");
	if (*uri && strncmp(uri, "nbd://", 6) && strncmp(uri, "nbd+unix://", 11))
		return err_set(e, "option remote=%s: not an nbd:// or nbd+unix:// URI", uri);
	snprintf(c->remote, sizeof c->remote, "%s", uri);
	if (sc->mode == MODE_MIGRATE && c->mount == NBD_MOUNT_DIRECT)
		return err_set(e, "nbd: --migrate needs mount=managed (the seeder tracks writes in the managed engine)");
	return 0;
}

/* During a migration the source's device and the seeder are served from the
 * engine through a pass-through backend whose flush ends at the engine.
 * Every write the server acknowledged is already in the engine's cache
 * (managed_write copies before it returns), and the cache is what the
 * seeder serves and what the dirty list is taken from: the migration's copy
 * is complete there. The engine's own flush would also push every dirty
 * chunk to the remote and wait for it; a hot-set writer dirties nearly every
 * chunk between two flushes, so each device flush (the writer's msync at the
 * suspension, the pre-copy writebacks, the leecher's flush forwarded by the
 * seeder) put almost the whole region on the source's link (256 MiB at
 * 100 Mbit/s: 21 s) for a remote copy that the migration never reads. An
 * explicit sync (nbd_sync) still pushes. */
static const struct backend_passthrough_hooks seed_hooks = {.kind = "nbd-migration-source", .flush_ends_here = 1};

/* A leecher's device flush. Without local changes, the engine's flush
 * (it pushes nothing, waits for the pull's requests in flight, flushes the
 * seeder): what every migration destination did before it was written.
 * Once written (after the switch-over, e.g. a leecher seeding the next hop)
 * nothing is pushed: the seeder is read-only (EPERM), and every write the
 * device acknowledged is in the engine, which holds the region now. */
static int leech_flush(struct backend *b, struct err *e)
{
	struct nbd_local *l = (struct nbd_local *)((char *)b->ops - offsetof(struct nbd_local, leech_ops));
	struct managed_stats s;
	managed_stats(l->mg, &s);
	return s.chunks_dirty ? 0 : managed_flush(l->mg, e);
}

/* The backend the device is served from: the remote itself, or the managed engine over it. */
static int local_backend(struct nbd_local *l, const char *uri, struct err *e)
{
	struct remote_opts ro = {.uri = uri, .nconn = l->cfg.remote_conns};
	if (!(l->rm = remote_connect_opts(&ro, e)))
		return -1;
	if (l->cfg.mount == NBD_MOUNT_DIRECT) {
		l->b = backend_remote_new(l->rm, e);
		if (l->b)
			l->rm = NULL; /* owned by the backend */
		return l->b ? 0 : -1;
	}
	struct managed_opts mo = l->cfg.mgo;
	if (l->cfg.cache_file) {
		snprintf(l->cache_path, sizeof l->cache_path, "%s/nbd-cache", l->sc->workdir);
		mo.cache_path = l->cache_path;
	}
	if (!(l->mg = managed_new(l->rm, &mo, e)))
		return -1;
	if (!(l->b = managed_backend_new(l->mg, e)))
		return -1;
	if (l->leecher) {
		l->leech_ops = *l->b->ops;
		l->leech_ops.flush = leech_flush;
		l->b->ops = &l->leech_ops;
	} else if (l->sc->mode == MODE_MIGRATE && !l->leech) {
		l->b = backend_passthrough_new(l->b, &seed_hooks, e); /* flushes end at the engine (above) */
	}
	return l->b ? 0 : -1;
}

/* Connect to uri and mount it as /dev/nbdX into r. */
int nbd_local_start(struct nbd_local *l, const char *uri, struct region *r, struct err *e)
{
	if (local_backend(l, uri, e))
		return -1;
	char tag[96];
	snprintf(tag, sizeof tag, "memsync:ms%d:nbd-%d", (int)getppid(), (int)getpid());
	struct nbd_mount_opts mo = l->cfg.mo;
	mo.dev.tag = tag;
	if (nbd_mount_start(&l->mt, l->b, &mo, e))
		return -1;
	log_debug("nbd: %s attached by %s, ready (%s) after %.3f ms (connect %.3f ms)", l->mt.dev.path,
		  l->mt.dev.method == NBD_ATTACH_NETLINK ? "netlink" : "ioctl",
		  mo.dev.ready == NBD_READY_POLL ? "sysfs poll" : "uevent", (double)l->mt.dev.start_ns / 1e6,
		  (double)l->mt.dev.connect_ns / 1e6);
	r->kind = REGION_FILE;
	snprintf(r->path, sizeof r->path, "%s", l->mt.dev.path);
	return 0;
}

/* Copy the engine's counters into the region. */
void nbd_local_counters(struct nbd_local *l, struct region *r)
{
	if (!l || !l->mg)
		return;
	struct managed_stats s;
	managed_stats(l->mg, &s);
	r->faults = s.demand_fetches;
	r->bytes_pulled = s.bytes_pulled_demand + s.bytes_pulled_background;
	r->bytes_pushed = s.bytes_pushed;
	r->chunks_dirty = s.chunks_dirty;
}
