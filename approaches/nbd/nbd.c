/*
 * nbd.c - the `nbd` approach: the region is a kernel block device,
 * /dev/nbdX, served by memsync's NBD server in the local process over
 * socketpairs and mapped MAP_SHARED by the workload.
 *
 *   mount=direct:  the device's backend is the remote (every kernel
 *                  request becomes a request to the remote);
 *   mount=managed: the managed engine (approaches/common/managed.h): a
 *                  local cache, background pull, dirty chunks pushed on
 *                  sync (and every push_interval).
 *
 * The remote side is the shared NBD remote side (harness/nbd_side.h), or
 * any NBD server by URI (-o remote=nbd://...). --migrate is two-phase with
 * seeder and leecher (nbd_migrate.c). The kernel side (attach, readiness,
 * detach, stale devices) is nbd_kernel.c; see README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "nbd_int.h"
#include "nbd_side.h"

static const struct approach_opt nbd_options[] = {
	{"mount", "managed", "managed (local cache, background pull, push of dirty chunks) | direct (every kernel "
			     "request goes to the remote)"},
	{"remote", "", "NBD URI of the remote (nbd://HOST:PORT/NAME, e.g. nbdkit or qemu-nbd; its export has the "
		       "region's size, the remote side fills it); default: the scenario's remote side"},
	{"conns", "4", "kernel NBD connections to the local server (socketpairs), 1 .. 16"},
	{"server_workers", "0", "server threads per connection (0 = the server's default)"},
	{"attach", "auto", "how the device is attached: auto (netlink, else ioctl) | netlink | ioctl"},
	{"ready", "uevent", "how readiness is detected: uevent (the kernel's change event) | poll (sysfs size/pid)"},
	{"index", "-1", "device number: -1 = a free one"},
	{"blksize", "4096", "block size of the device (512 .. 4096)"},
	{"timeout", "120s", "the kernel fails a request unanswered this long (duration, whole seconds)"},
	{"chunk", "1m", "managed: chunk size, 4k .. 1m, a power of two"},
	{"pull_inflight", "16", "managed: background pull requests in flight (0 = no background pull)"},
	{"order", "linear", "managed: background pull order: linear | header-first | follow"},
	{"push_interval", "0", "managed: also push dirty chunks every this long (duration; 0 = only on sync)"},
	{"retry", "10s", "managed: a failed demand fetch is retried for this long (duration)"},
	{"cache", "memory", "managed: cache in memory | file (under the scratch directory)"},
	{"remote_conns", "4", "connections to the remote, 1 .. 16"},
	{"server_chunk", "0", "remote side: split backend calls into aligned chunks of this size (0 = whole requests)"},
	{"precopy", "wait", "migration: wait (finalize once the leecher pulled everything) | none (finalize at once)"},
	{"fault_seeder_kill", "0", "test hook: the migration source kills its process after serving this many bytes"},
	{NULL, NULL, NULL},
};

/* Unmount and free everything. */
void nbd_local_free(struct nbd_local *l)
{
	if (!l)
		return;
	nbd_migrate_stop(l);
	nbd_mount_stop(&l->mt);
	backend_close(l->b);
	if (l->mg)
		managed_close(l->mg);
	if (l->rm)
		remote_close(l->rm);
	if (l->cache_path[0])
		unlink(l->cache_path);
	free(l);
}

/* Local process: connect, mount, and in a migration start seeding. */
static int nbd_open(const struct scenario *sc, struct region *r, struct err *e)
{
	struct nbd_local *l = calloc(1, sizeof *l);
	if (!l)
		return err_errno(e, ENOMEM, "nbd: local side");
	l->mt.dev.index = -1;
	l->mt.dev.fd = -1;
	l->sc = sc;
	r->priv = l;
	if (nbd_parse_opts(sc, &l->cfg, e))
		return -1;
	char uri[300];
	if (l->cfg.remote[0])
		snprintf(uri, sizeof uri, "%s", l->cfg.remote);
	else
		snprintf(uri, sizeof uri, "nbd://%s:%d/", sc->remote_addr, sc->port);
	if (nbd_local_start(l, uri, r, e))
		return -1;
	if (sc->mode == MODE_MIGRATE && nbd_seed_start(l, e))
		return -1;
	return 0;
}

/* Local process: msync was done by the workload; write back the device, push. */
static int nbd_sync(struct region *r, struct err *e)
{
	struct nbd_local *l = r->priv;
	int rc = nbd_mount_flush(&l->mt, e);
	if (!rc)
		rc = l->mg ? managed_flush(l->mg, e) : backend_flush(l->b, e);
	nbd_local_counters(l, r);
	return rc;
}

/* Local or destination process: unmount and free. */
static void nbd_close(struct region *r)
{
	nbd_local_counters(r->priv, r);
	nbd_local_free(r->priv);
	r->priv = NULL;
}

/* Before any scenario: every option value (bad ones refuse the run, exit 2). */
static int nbd_check_options(const struct scenario *sc, struct err *e)
{
	struct nbd_cfg c;
	uint64_t chunk;
	if (nbd_parse_opts(sc, &c, e) || scenario_opt_size(sc, "server_chunk", 0, &chunk, e))
		return -1;
	if (sc->size % c.mo.dev.blksize)
		return err_set(e, "nbd: the region size must be a multiple of blksize=%llu",
			       (unsigned long long)c.mo.dev.blksize);
	return 0;
}

/* Remote process: the shared remote side, with server-side chunking if asked;
 * with remote=URI that server is the remote copy (filled with the version-0
 * content and read back for verification over NBD). */
static int nbd_serve(struct host *h, struct err *e)
{
	struct nbd_side_opts o = {0};
	struct nbd_cfg c;
	char spec[300];
	if (nbd_parse_opts(h->sc, &c, e) || scenario_opt_size(h->sc, "server_chunk", 0, &o.server.chunk_size, e))
		return -1;
	if (c.remote[0]) {
		snprintf(spec, sizeof spec, "remote:%s", c.remote);
		o.backend = spec;
	}
	return approach_nbd_serve_with(h, &o, e);
}

/* Can the kernel NBD client run here? */
static int nbd_probe(struct err *e)
{
	if (!remote_available())
		return err_set(e, "nbd needs libnbd (not found at build time)");
	struct err k = {0};
	if (nbd_kernel_probe(&k) == 0)
		return 0;
	return err_set(e, "%s; `./run.sh --vm` runs it in the VM lab (Debian kernel with nbd.ko)", k.msg);
}

/* Disconnect devices left connected by dead runs. */
static void nbd_cleanup_stale(void)
{
	if (geteuid() == 0 && !access("/sys/module/nbd", F_OK))
		nbd_kernel_cleanup_stale();
}

const struct approach_ops nbd_ops = {
	.name = "nbd",
	.summary = "kernel NBD client: /dev/nbdX served in-process, direct or managed mount, two-phase migration",
	.caps = CAP_READ | CAP_WRITE | CAP_MIGRATE | CAP_REMOTE,
	.options = nbd_options,
	.probe = nbd_probe,
	.check_options = nbd_check_options,
	.serve = nbd_serve,
	.remote_read = approach_nbd_remote_read,
	.serve_stop = approach_nbd_serve_stop,
	.open = nbd_open,
	.sync = nbd_sync,
	.close = nbd_close,
	.cleanup_stale = nbd_cleanup_stale,
	.migrate_dest = nbd_migrate_dest,
	.migrate_source = nbd_migrate_source,
};
