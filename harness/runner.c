/*
 * runner.c - runs one scenario after another.
 *
 * For each scenario (approach x profile x workload; warm-up runs, then the
 * repeats) the runner builds the topology (network namespaces and a shaped
 * link), then forks the approach's processes into their hosts:
 *
 *   remote   (host 1)  serve(), later remote_read() for verification
 *   local    (host 0)  open()/attach(), sync(), migrate_source(), close()
 *   workload (host 0)  maps the region and runs the workload
 *   dest, dest-workload (host 2, migrations only)
 *
 * Each child talks to the runner over a socketpair with one-byte commands and
 * one-byte replies (supervise.c, runner_child.c); results, error messages and
 * CPU times go through one shared-memory block, the content model's versions
 * through another. The local process and the workload share a socketpair of
 * their own for the region description and the userfaultfd (SCM_RIGHTS).
 *
 * Every phase has a timeout; a dead child or Ctrl-C ends the scenario,
 * children are killed, the topology is destroyed, and a record says why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "netem/profile.h"
#include "proc.h"
#include "runner_int.h"

/* Well-known ports inside the scenario's namespaces (each host has its own). */
#define RUNNER_PORT_REMOTE 10809  /* the remote side (NBD's IANA port) */
#define RUNNER_PORT_MIGRATE 10810 /* a migration source serving the destination */
#define RUNNER_PORT_CONTROL 10811 /* an approach's control channel or hub */

/* The run in progress, for the loop over scenarios. */
struct run_ctx {
	const struct run_plan *p;
	FILE *out;
	int index, total;         /* scenario runs started so far, and in all */
	uint64_t start_ns;
	struct run_totals *t;
};

/* A TCP port that is free on the loopback now (bind to port 0, read it back). */
static int free_loopback_port(struct err *e)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || getsockname(fd, (struct sockaddr *)&sa, &len)) {
		err_errno(e, errno, "cannot find a free TCP port");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(sa.sin_port);
}

/* The ports of a scenario: in namespaces each host has its own port space
 * and the well-known ones serve; on the shared loopback (no network) the
 * remote picks its own and the others are free ones found now. */
static int assign_ports(struct scenario *sc, int shared_loopback, struct err *e)
{
	if (!shared_loopback) {
		sc->port = RUNNER_PORT_REMOTE;
		sc->mig_port = RUNNER_PORT_MIGRATE;
		sc->ctl_port = RUNNER_PORT_CONTROL;
		return 0;
	}
	sc->port = 0;
	if ((sc->mig_port = free_loopback_port(e)) < 0 || (sc->ctl_port = free_loopback_port(e)) < 0)
		return -1;
	return 0;
}

/* Has the approach a remote side? */
int approach_has_remote(const struct approach_ops *ops)
{
	return (ops->caps & CAP_REMOTE) != 0;
}

/* Which netem driver a scenario uses: none unless the approach has a remote side. */
static enum netem_driver scenario_driver(const struct run_plan *p, const struct approach_ops *ops)
{
	return approach_has_remote(ops) ? (enum netem_driver)p->netem_driver : NETEM_NONE;
}

/* The scenario's resources: its scratch directory and the shared memory. */
static int scenario_setup(struct scenario_run *s, int index, struct err *e)
{
	struct scenario *sc = &s->sc;
	snprintf(sc->workdir, sizeof sc->workdir, "%s/memsync-%d-%d", s->plan->workroot, (int)getpid(), index);
	if (mkdir(sc->workdir, 0700) && errno != EEXIST)
		return err_errno(e, errno, "cannot create %s", sc->workdir);
	s->versions_len = (sc->size / CONTENT_BLOCK) * sizeof(uint32_t);
	s->versions = mmap(NULL, s->versions_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	s->sh = mmap(NULL, sizeof *s->sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->versions == MAP_FAILED)
		s->versions = NULL;
	if (s->sh == MAP_FAILED)
		s->sh = NULL;
	if (!s->versions || !s->sh)
		return err_errno(e, errno, "cannot map shared memory");
	sc->versions = s->versions;
	return 0;
}

/* The topology (hosts, link), the addresses and ports, the local<->workload sockets. */
static int scenario_network(struct scenario_run *s, struct err *e)
{
	struct scenario *sc = &s->sc;
	struct netem_profile prof;
	if (profile_load(sc->profile, &prof, e))
		return -1;
	enum netem_driver drv = scenario_driver(s->plan, sc->ops);
	int migrate = sc->mode == MODE_MIGRATE;
	if (topo_create(&s->topo, &prof, (migrate ? HOST_THIRD : HOST_REMOTE) + 1, drv, e))
		return -1;
	snprintf(sc->local_addr, sizeof sc->local_addr, "%s", topo_host(s->topo, HOST_LOCAL)->addr);
	snprintf(sc->remote_addr, sizeof sc->remote_addr, "%s", topo_host(s->topo, HOST_REMOTE)->addr);
	if (migrate)
		snprintf(sc->third_addr, sizeof sc->third_addr, "%s", topo_host(s->topo, HOST_THIRD)->addr);
	if (assign_ports(sc, drv == NETEM_NONE, e))
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->pair_local_wl) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s->pair_dest_wl))
		return err_errno(e, errno, "socketpair");
	return 0;
}

/* The remote process, when the approach has one: serving, its port known. */
static int start_remote(struct scenario_run *s, struct err *e)
{
	if (!approach_has_remote(s->sc.ops))
		return 0;
	if (child_spawn(s, ROLE_REMOTE, HOST_REMOTE, e) || child_await(s, ROLE_REMOTE, "starting to serve", e))
		return -1;
	s->sc.port = s->sh->port;
	return 0;
}

/* A CPU mark in the local process and, if there is one, the remote process. */
static int mark_cpu(struct scenario_run *s, struct err *e)
{
	if (child_command(s, ROLE_LOCAL, CMD_CPU, "marking CPU", e))
		return -1;
	return approach_has_remote(s->sc.ops) ? child_command(s, ROLE_REMOTE, CMD_CPU, "marking CPU", e) : 0;
}

/* Start of the untimed opening: the clock and the link's counters. */
static uint64_t open_mark(const struct scenario_run *s, struct link_counters *c)
{
	wire_now(s, c);
	return now_ns();
}

/* End of the opening: its time and what crossed the link meanwhile (a
 * background pull that starts at open() is not in the timed window). */
static void open_done(struct scenario_result *res, uint64_t t0, const struct link_counters *a,
		      const struct link_counters *b)
{
	res->open_s = (double)(now_ns() - t0) / 1e9;
	res->wire_open = wire_delta(a, b);
}

/* The phases of an access scenario: start sides, run, sync, verify. */
static int run_access(struct scenario_run *s, struct scenario_result *res, struct err *e)
{
	struct link_counters wo, w0, w1;
	uint64_t to = open_mark(s, &wo);
	if (start_remote(s, e) || child_spawn(s, ROLE_LOCAL, HOST_LOCAL, e) ||
	    child_spawn(s, ROLE_WORKLOAD, HOST_LOCAL, e))
		return -1;
	if (child_await(s, ROLE_LOCAL, "opening the region", e) ||
	    child_await(s, ROLE_WORKLOAD, "mapping the region", e))
		return -1;
	wire_now(s, &w0);
	open_done(res, to, &wo, &w0);
	if (mark_cpu(s, e) || child_command(s, ROLE_WORKLOAD, CMD_RUN, "running the workload", e))
		return -1;
	uint64_t t0 = now_ns();
	if (child_command(s, ROLE_LOCAL, CMD_SYNC, "syncing", e))
		return -1;
	/* The sync: the workload's msync of a file region, then the approach's sync(). */
	res->sync_s = (double)(s->sh->workload_flush_ns + now_ns() - t0) / 1e9;
	if (mark_cpu(s, e))
		return -1;
	wire_now(s, &w1);
	res->wire = wire_delta(&w0, &w1);
	if (child_command(s, ROLE_WORKLOAD, CMD_VERIFY, "verifying the local view", e))
		return -1;
	if (approach_has_remote(s->sc.ops)) {
		res->remote_verified = 0;
		if (child_command(s, ROLE_REMOTE, CMD_VERIFY, "verifying the remote copy", e))
			return -1;
		res->remote_verified = 1;
	}
	return 0;
}

/* The phases of a migration: source and destination up, writer runs, switch, resume, verify. */
static int run_migration(struct scenario_run *s, struct scenario_result *res, struct err *e)
{
	struct link_counters wo, w0, w1;
	uint64_t to = open_mark(s, &wo);
	if (start_remote(s, e) || child_spawn(s, ROLE_LOCAL, HOST_LOCAL, e) ||
	    child_spawn(s, ROLE_WORKLOAD, HOST_LOCAL, e) || child_await(s, ROLE_LOCAL, "opening the source region", e) ||
	    child_await(s, ROLE_WORKLOAD, "mapping the source region", e))
		return -1;
	if (child_spawn(s, ROLE_DEST, HOST_THIRD, e) || child_spawn(s, ROLE_DEST_WORKLOAD, HOST_THIRD, e) ||
	    child_await(s, ROLE_DEST, "opening the destination region", e) ||
	    child_await(s, ROLE_DEST_WORKLOAD, "mapping the destination region", e))
		return -1;
	wire_now(s, &w0);
	open_done(res, to, &wo, &w0);
	/* The writer runs until suspended; the runner does not wait for it here. */
	if (child_send(s, ROLE_WORKLOAD, CMD_RUN, "starting the writer", e))
		return -1;
	struct timespec ts = {(time_t)(s->plan->migrate_after_ns / 1000000000ull),
			      (long)(s->plan->migrate_after_ns % 1000000000ull)};
	nanosleep(&ts, NULL);
	uint64_t t0 = now_ns();
	if (child_command(s, ROLE_LOCAL, CMD_MIGRATE, "migrating", e))
		return -1;
	if (!s->sh->writer_stopped)
		return err_set(e, "migrate_source() returned without suspending the writer");
	if (child_await(s, ROLE_WORKLOAD, "stopping the writer", e) ||
	    child_command(s, ROLE_DEST_WORKLOAD, CMD_RESUME, "resuming on the destination", e))
		return -1;
	res->sync_s = (double)(now_ns() - t0) / 1e9;
	wire_now(s, &w1);
	res->wire = wire_delta(&w0, &w1);
	res->remote_verified = 1;
	return 0;
}

/* Why every run of this approach and workload is a skip (1, reason in skip), or 0. */
static int scenario_skip_reason(const struct run_plan *p, const struct approach_ops *ops, const struct workload *wl,
				struct err *skip)
{
	if (ops->unsupported)
		return err_set(skip, "%s", ops->unsupported), 1;
	if (p->mode == MODE_MIGRATE && !(ops->caps & CAP_MIGRATE))
		return err_set(skip, "approach %s does not implement migration", ops->name), 1;
	if (wl->write_fraction < 1 && !(ops->caps & CAP_READ))
		return err_set(skip, "approach %s does not serve reads (workload %s reads)", ops->name, wl->name), 1;
	if (wl->write_fraction > 0 && !(ops->caps & CAP_WRITE))
		return err_set(skip, "approach %s does not carry writes (workload %s writes)", ops->name, wl->name), 1;
	return ops->probe && ops->probe(skip) ? 1 : 0;
}

/* One line on stderr for a finished scenario run. */
static void log_outcome(const struct scenario_run *s, const struct scenario_result *res)
{
	const struct scenario *sc = &s->sc;
	const char *tag = res->warmup ? " (warm-up)" : "";
	if (res->status == STATUS_FAIL) {
		log_warn("FAIL %s/%s/%s%s: %s", sc->ops->name, sc->wl.name, sc->profile, tag, res->why.msg);
	} else if (res->status == STATUS_SKIP) {
		log_info("skip %s/%s/%s: %s", sc->ops->name, sc->wl.name, sc->profile, res->why.msg);
	} else if (res->status == STATUS_PASS) {
		const struct workload_result *w = &s->sh->wres;
		double secs = (double)w->elapsed_ns / 1e9;
		log_info("pass %s/%s/%s%s: %.1f MB/s, first access %.1f us, p99 %.1f us", sc->ops->name, sc->wl.name,
			 sc->profile, tag, secs > 0 ? (double)(w->bytes_read + w->bytes_written) / secs / 1e6 : 0,
			 (double)w->first_access_ns / 1e3,
			 (double)hist_percentile(w->bytes_read ? &w->read_lat : &w->write_lat, 99) / 1e3);
	}
}

/* Free what scenario_setup() and scenario_network() made (children are stopped). */
static void scenario_release(struct scenario_run *s)
{
	for (int i = 0; i < 2; i++) {
		if (s->pair_local_wl[i] >= 0)
			close(s->pair_local_wl[i]);
		if (s->pair_dest_wl[i] >= 0)
			close(s->pair_dest_wl[i]);
	}
	if (s->topo)
		topo_destroy(s->topo);
	struct err e = {0};
	if (s->sc.workdir[0] && workdir_remove(s->sc.workdir, &e))
		log_warn("%s", e.msg);
	if (s->versions)
		munmap(s->versions, s->versions_len);
	if (s->sh)
		munmap(s->sh, sizeof *s->sh);
}

/* Run one scenario end to end (or record its skip) and write its record;
 * write_err is set when the record could not be written. */
static enum scenario_status run_scenario(struct run_ctx *c, const struct approach_ops *ops, const struct workload *wl,
					 const char *profile, int warmup, const struct err *skip, struct err *write_err)
{
	struct scenario_run s = {.plan = c->p};
	for (int r = 0; r < NROLES; r++)
		s.ch[r].sock = -1;
	s.pair_local_wl[0] = s.pair_local_wl[1] = s.pair_dest_wl[0] = s.pair_dest_wl[1] = -1;
	struct scenario_result res = {.status = STATUS_FAIL, .warmup = warmup, .remote_verified = -1};
	scenario_fill(&s.sc, c->p, ops, wl, profile, c->index);
	if (skip) {
		res.status = STATUS_SKIP;
		res.why = *skip;
		res.load_before = proc_loadavg1();
	} else {
		res.load_before = preflight_load_warn();
		if (!scenario_setup(&s, c->index, &res.why) && !workload_validate(&s.sc.wl, s.sc.size, &res.why) &&
		    !scenario_network(&s, &res.why) &&
		    !(s.sc.mode == MODE_MIGRATE ? run_migration(&s, &res, &res.why) : run_access(&s, &res, &res.why)))
			res.status = STATUS_PASS;
	}
	if (children_stop(&s) && ops->cleanup_stale)
		ops->cleanup_stale(); /* a process was killed: what its teardown would have removed */
	if (runner_interrupted)
		res.status = STATUS_INTERRUPTED;
	res.load_after = proc_loadavg1();
	record_scenario(c->out, &s, c->index, &res, write_err);
	log_outcome(&s, &res);
	scenario_release(&s);
	return res.status;
}

/* Scenario runs of one approach and workload on one profile: warm-ups (none when skipped) and repeats. */
static int group_runs(const struct run_plan *p, const struct approach_ops *ops, const struct workload *wl,
		      struct err *skip)
{
	return (scenario_skip_reason(p, ops, wl, skip) ? 0 : p->warmup) + p->repeat;
}

/* Warm-up runs, then the repeats, of one approach x profile x workload. */
static enum run_outcome run_group(struct run_ctx *c, const struct approach_ops *ops, const struct workload *wl,
				  const char *profile, struct err *e)
{
	const struct run_plan *p = c->p;
	struct err skip = {0};
	int nwarm = group_runs(p, ops, wl, &skip) - p->repeat;
	for (int rep = -nwarm; rep < p->repeat; rep++) {
		uint64_t el = now_ns() - c->start_ns;
		double eta = c->index ? (double)el / c->index * (c->total - c->index) / 1e9 : 0;
		log_info("[%d/%d] %s / %s / %s%s%s (elapsed %.0f s, ETA %.0f s)", c->index + 1, c->total, ops->name,
			 wl->name, profile, p->mode == MODE_MIGRATE ? " / migrate" : "", rep < 0 ? " / warm-up" : "",
			 (double)el / 1e9, eta);
		struct err werr = {0};
		enum scenario_status st = run_scenario(c, ops, wl, profile, rep < 0, skip.set ? &skip : NULL, &werr);
		c->index++;
		if (werr.set) {
			*e = werr;
			return RUN_ERROR;
		}
		if (st == STATUS_INTERRUPTED)
			return err_set(e, "interrupted"), RUN_INTERRUPTED;
		if (st == STATUS_FAIL)
			c->t->failed++;
		else if (rep < 0)
			c->t->warmups++;
		else if (st == STATUS_PASS)
			c->t->passed++;
		else
			c->t->skipped++;
	}
	return RUN_COMPLETED;
}

/* The cartesian product approaches x profiles x workloads, each warm-ups + repeats. */
static enum run_outcome run_all(struct run_ctx *c, struct err *e)
{
	const struct run_plan *p = c->p;
	struct err ignored;
	for (int a = 0; a < p->napproaches; a++)
		for (int w = 0; w < p->nworkloads; w++) {
			memset(&ignored, 0, sizeof ignored);
			c->total += p->nprofiles * group_runs(p, p->approaches[a], &p->workloads[w], &ignored);
		}
	for (int a = 0; a < p->napproaches; a++)
		for (int pr = 0; pr < p->nprofiles; pr++)
			for (int w = 0; w < p->nworkloads; w++) {
				enum run_outcome oc = run_group(c, p->approaches[a], &p->workloads[w], p->profiles[pr], e);
				if (oc != RUN_COMPLETED)
					return oc;
			}
	return RUN_COMPLETED;
}

/* After the checks: stale cleanup, an idle machine, the header, the scenarios. */
static enum run_outcome run_checked(struct run_ctx *c, int created, struct err *e)
{
	const struct run_plan *p = c->p;
	int removed;
	struct err ce = {0};
	if (runner_cleanup_stale(p->workroot, &removed, &ce))
		log_warn("cleaning up after an earlier run: %s", ce.msg);
	if (preflight_wait_idle(p, e)) {
		if (created)
			unlink(p->out_path); /* nothing was written */
		return runner_interrupted ? RUN_INTERRUPTED : RUN_BAD_INPUT;
	}
	log_info("writing results to %s", p->out_path);
	errno = 0;
	if (runner_write_header(c->out, p, runner_driver_name(p)))
		return err_errno(e, errno ? errno : EIO, "cannot write the results to %s", p->out_path), RUN_ERROR;
	c->start_ns = now_ns();
	return run_all(c, e);
}

/* Check the plan, then run it. */
enum run_outcome runner_run(const struct run_plan *p, struct run_totals *t, struct err *e)
{
	memset(t, 0, sizeof *t);
	struct run_ctx c = {.p = p, .t = t};
	int created;
	if (preflight_check(p, &c.out, &created, e))
		return RUN_BAD_INPUT;
	runner_signals_install();
	enum run_outcome oc = run_checked(&c, created, e);
	if (fclose(c.out) && oc == RUN_COMPLETED) {
		err_errno(e, errno, "cannot write the results to %s", p->out_path);
		oc = RUN_ERROR;
	}
	runner_signals_restore();
	return oc;
}
