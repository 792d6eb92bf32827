/*
 * uffd.c - the `uffd` approach: an anonymous region filled on first touch
 * through userfaultfd, from a remote copy served over NBD.
 *
 * This file is the approach as the harness sees it: its ops struct, and
 * hooks that dispatch to the parts (see README.md for the file table):
 *   - the remote side is the shared NBD remote side (harness/nbd_side.h):
 *     a memory backend with the version-0 content, served by nbd_server;
 *   - handler=process (default): the workload hands the userfaultfd to the
 *     local process, where the core (uffd_int.h) resolves the faults;
 *   - handler=inprocess: the same core in the workload process
 *     (uffd_inproc.c), the local process forwards sync and close;
 *   - --migrate: post-copy migration (uffd_migrate.c).
 */
#include "uffd.h"

#include <unistd.h>

#include "nbd_side.h"

/* The options name a combination this build or mode cannot run. */
static int check_mode(const struct scenario *sc, enum uffd_handler handler, struct err *e)
{
	if (!remote_available())
		return err_set(e, "uffd needs libnbd (not found at build time)");
	if (handler == UFFD_HANDLER_INPROCESS && sc->mode == MODE_MIGRATE)
		return err_set(e, "uffd: handler=inprocess is not supported with --migrate (post-copy serves the "
			       "destination from the source's local process; use handler=process)");
	return 0;
}

/* Before the first scenario: every -o value parses and the combination can run. */
static int uffd_check_options(const struct scenario *sc, struct err *e)
{
	struct uffd_cfg cfg;
	enum uffd_handler handler;
	return uffd_parse_opts(sc, &cfg, &handler, e) || check_mode(sc, handler, e) ? -1 : 0;
}

/* Local process: check the options, connect to the remote, ask for a uffd region
 * (handler=inprocess: the workload connects and runs the threads, uffd_inproc.c). */
static int uffd_open(const struct scenario *sc, struct region *r, struct err *e)
{
	struct uffd_cfg cfg;
	enum uffd_handler handler;
	if (uffd_parse_opts(sc, &cfg, &handler, e) || check_mode(sc, handler, e))
		return -1;
	if (handler == UFFD_HANDLER_INPROCESS)
		return uffd_inproc_open(sc, r, &cfg, e);
	struct uffd *u = uffd_new(sc, r, &cfg, e);
	if (!u)
		return -1;
	uffd_set_uri(u, sc->remote_addr, sc->port);
	if (uffd_connect(u, e)) {
		uffd_free(u);
		return -1;
	}
	r->kind = REGION_ANON_UFFD;
	r->uffd_register_wp = u->cfg.wp;
	r->priv = u;
	return 0;
}

/* Local process: take the workload's userfaultfd and start the threads. */
static int uffd_attach(struct region *r, struct err *e)
{
	if (r->handler_in_workload)
		return uffd_inproc_attach(r, e);
	struct uffd *u = r->priv;
	if (uffd_take_region(u, r, e))
		return -1;
	return uffd_start(u, e);
}

/* Local process: push every dirty chunk (handler=inprocess: ask the workload to). */
static int uffd_sync(struct region *r, struct err *e)
{
	if (r->handler_in_workload)
		return uffd_inproc_sync(r, e);
	return uffd_push(r->priv, e);
}

/* Local process: stop and free. */
static void uffd_close(struct region *r)
{
	if (r->handler_in_workload) {
		uffd_inproc_close(r);
		return;
	}
	struct uffd *u = r->priv;
	if (!u)
		return;
	r->priv = NULL;
	uffd_stop(u);
}

/* Destination process: the migrated region, pulling from the source. */
static int uffd_dest(const struct scenario *sc, struct region *r, struct err *e)
{
	struct uffd_cfg cfg;
	enum uffd_handler handler;
	if (uffd_parse_opts(sc, &cfg, &handler, e) || check_mode(sc, handler, e))
		return -1;
	return uffd_migrate_dest(sc, r, &cfg, e);
}

/* Can userfaultfd run here? */
static int uffd_probe(struct err *e)
{
	if (!remote_available())
		return err_set(e, "uffd needs libnbd (not found at build time)");
	if (access("/proc/sys/vm/unprivileged_userfaultfd", F_OK) && access("/dev/userfaultfd", F_OK))
		return err_set(e, "this kernel has no userfaultfd");
	return 0;
}

const struct approach_ops uffd_ops = {
	.name = "uffd",
	.summary = "userfaultfd pull with fault-around, readahead/background prefetch, WP write tracking, post-copy",
	.caps = CAP_READ | CAP_WRITE | CAP_MIGRATE | CAP_REMOTE,
	.options = uffd_options,
	.check_options = uffd_check_options,
	.probe = uffd_probe,
	.serve = approach_nbd_serve,
	.remote_read = approach_nbd_remote_read,
	.serve_stop = approach_nbd_serve_stop,
	.open = uffd_open,
	.attach = uffd_attach,
	.workload_attach = uffd_workload_attach,
	.workload_detach = uffd_workload_detach,
	.sync = uffd_sync,
	.close = uffd_close,
	.migrate_dest = uffd_dest,
	.migrate_source = uffd_migrate_source,
};
