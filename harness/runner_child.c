/*
 * runner_child.c - the children's side of a scenario: the local (and
 * destination) process that runs the approach's local side, the workload
 * process that maps the region and accesses it, and the remote process that
 * serves the remote copy. Each answers the runner's command bytes until
 * CMD_QUIT, then tears its side down (close(), workload_detach(),
 * serve_stop()) and exits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "log.h"
#include "runner_int.h"

#define WRITER_STOP_POLL_US 50
#define WRITER_STOP_SLOW_NS 10000000000ull /* say so when the writer takes longer than this */

/* user+sys CPU of this process (all threads) in microseconds. */
static uint64_t cpu_self_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Record a CPU mark (0 = start of timed phase, 1 = end) for a role. */
static void cpu_mark(struct shared *sh, enum role r)
{
	int i = sh->ncpu_marks[r] < 2 ? sh->ncpu_marks[r]++ : 1;
	sh->cpu_us[r][i] = cpu_self_us();
}

/* Child side: store the error message for the runner and reply. */
void child_reply(struct scenario_run *s, enum role r, int ok, const struct err *e)
{
	if (!ok)
		snprintf(s->sh->err[r], sizeof s->sh->err[r], "%s", e && e->set ? e->msg : "failed");
	char c = ok ? CMD_OK : CMD_FAIL;
	if (write(s->ch[r].sock, &c, 1) != 1)
		_exit(1);
}

/* Child side: wait for the next command byte (0 when the runner is gone). */
static char child_next_cmd(struct scenario_run *s, enum role r)
{
	char c;
	ssize_t n;
	do
		n = read(s->ch[r].sock, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? c : 0;
}

/* The scenario and role of this child process, for region_report_fatal(). */
static struct scenario_run *fatal_run;
static enum role fatal_role;

/* region->report_fatal: store the message and tell the runner (any thread). */
static void region_report_fatal(struct region *r, const char *msg)
{
	(void)r;
	struct shared *sh = fatal_run->sh;
	if (__atomic_load_n(&sh->async_fail, __ATOMIC_ACQUIRE))
		return;
	if (!sh->err[fatal_role][0])
		snprintf(sh->err[fatal_role], sizeof sh->err[fatal_role], "%s", msg);
	__atomic_store_n(&sh->async_fail, (int)fatal_role + 1, __ATOMIC_RELEASE);
}

/* Hand the workload's userfaultfd (fd, or -1) to the approach as the region requires. */
static int local_take_uffd(const struct approach_ops *ops, struct region *r, int fd, struct err *e)
{
	if (r->kind == REGION_ANON_UFFD && r->handler_in_workload) {
		/* The workload kept the uffd and started the approach's side (workload_attach). */
		if (fd >= 0)
			close(fd);
		return ops->attach ? ops->attach(r, e) : 0;
	}
	if (r->kind == REGION_ANON_UFFD) {
		if (fd < 0)
			return err_set(e, "no userfaultfd received from the workload");
		r->uffd = fd;
		if (!ops->attach)
			return err_set(e, "approach %s maps REGION_ANON_UFFD but has no attach hook", ops->name);
		return ops->attach(r, e);
	}
	if (r->kind == REGION_FILE && fd >= 0) {
		/* The workload registered its file mapping for async write-protect
		 * dirty tracking (uffd_register_wp): the approach keeps the uffd. */
		r->uffd = fd;
		return ops->attach ? ops->attach(r, e) : 0;
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Local/dest side: open the region, describe it to the workload, take its uffd. */
static int local_open(struct scenario_run *s, struct region *r, int wl_sock, int dest, struct err *e)
{
	const struct approach_ops *ops = s->sc.ops;
	memset(r, 0, sizeof *r);
	r->sc = &s->sc;
	r->uffd = -1;
	fatal_run = s;
	fatal_role = dest ? ROLE_DEST : ROLE_LOCAL;
	r->report_fatal = region_report_fatal;
	r->size = s->sc.size;
	if (dest ? ops->migrate_dest(&s->sc, r, e) : ops->open(&s->sc, r, e))
		return -1;
	struct region_desc d = {.kind = r->kind, .wp = r->uffd_register_wp, .in_workload = r->handler_in_workload,
				.size = r->size};
	snprintf(d.path, sizeof d.path, "%s", r->path);
	if (send_fd(wl_sock, -1, &d, sizeof d))
		return err_errno(e, errno, "cannot describe the region to the workload");
	struct region_reply reply;
	int fd;
	if (recv_fd(wl_sock, &fd, &reply, sizeof reply) || !reply.ok) {
		const char *why = s->sh->err[dest ? ROLE_DEST_WORKLOAD : ROLE_WORKLOAD];
		return err_set(e, "the workload could not map the region%s%s", *why ? ": " : " (see its error)", why);
	}
	r->addr = (void *)(uintptr_t)reply.addr;
	r->workload_pid = reply.pid;
	return local_take_uffd(ops, r, fd, e);
}

/* Copy the approach's counters into the shared block. */
static void publish_counters(struct scenario_run *s, enum role role, const struct region *r)
{
	s->sh->counters[role].faults = r->faults;
	s->sh->counters[role].pulled = r->bytes_pulled;
	s->sh->counters[role].pushed = r->bytes_pushed;
	s->sh->counters[role].dirty = r->chunks_dirty;
}

/* Harness callback for migrate_source(): stop the writer (and wait for its flush). */
static int suspend_writer(struct migration *m, struct err *e)
{
	struct scenario_run *s = m->harness;
	s->sh->stop_writer = 1;
	/* Stopping includes the writer's msync of every dirty page: in the VM
	 * lab (TCG) that alone can take longer than 10 s. Half the phase
	 * timeout leaves the runner's watchdog the other half. */
	uint64_t t0 = now_ns(), limit = s->plan->timeout_ns / 2;
	int said = 0;
	while (!s->sh->writer_stopped) {
		uint64_t waited = now_ns() - t0;
		if (waited > limit)
			return err_set(e, "the writer did not stop within %.0f s (half the phase --timeout)",
				       (double)limit / 1e9);
		if (!said && waited > WRITER_STOP_SLOW_NS)
			said = 1, log_info("migration: the writer has not stopped after %.0f s (flushing its dirty pages)",
					   (double)WRITER_STOP_SLOW_NS / 1e9);
		usleep(WRITER_STOP_POLL_US);
	}
	return 0; /* the downtime clock started when the writer stopped (workload_cmd_run) */
}

/* CMD_MIGRATE in the local process: migrate_source() with the harness callback. */
static int local_migrate(struct scenario_run *s, struct region *r, struct err *e)
{
	struct migration m = {.suspend_source = suspend_writer, .harness = s};
	int rc = s->sc.ops->migrate_source(r, &m, e);
	s->sh->mig_rounds = m.rounds;
	s->sh->mig_bytes_moved = m.bytes_moved;
	s->sh->mig_bytes_resent = m.bytes_resent;
	return rc;
}

/* The local (or dest) process: open, then serve sync/migrate commands; close()
 * after every open(), failed or not (the teardown contract, approach.h). */
int child_local_main(struct scenario_run *s, enum role role)
{
	const struct approach_ops *ops = s->sc.ops;
	int dest = role == ROLE_DEST;
	int wl_sock = dest ? s->pair_dest_wl[0] : s->pair_local_wl[0];
	struct region r;
	struct err e = {0};
	int ok = local_open(s, &r, wl_sock, dest, &e) == 0;
	child_reply(s, role, ok, &e);
	if (!ok) {
		ops->close(&r);
		return 1;
	}
	for (char c; (c = child_next_cmd(s, role)) && c != CMD_QUIT;) {
		err_clear(&e);
		switch (c) {
		case CMD_CPU:
			cpu_mark(s->sh, role);
			ok = 1;
			break;
		case CMD_SYNC:
			ok = !ops->sync || ops->sync(&r, &e) == 0;
			break;
		case CMD_MIGRATE:
			ok = local_migrate(s, &r, &e) == 0;
			break;
		default:
			ok = err_set(&e, "unknown command '%c'", c) == 0;
		}
		publish_counters(s, role, &r);
		child_reply(s, role, ok, &e);
	}
	publish_counters(s, role, &r);
	ops->close(&r);
	return 0;
}

/* The workload's side of the approach (handler_in_workload): workload_attach(). */
static int workload_attach_approach(struct scenario_run *s, struct region *wr, struct err *e)
{
	const struct approach_ops *ops = s->sc.ops;
	if (!ops->workload_attach)
		return err_set(e, "approach %s keeps its handler in the workload but has no workload_attach hook",
			       ops->name);
	return ops->workload_attach(&s->sc, wr, e);
}

/* Workload process: receive the region's description, map it, answer the
 * local side (with the uffd it takes over); NULL when the region is not mapped. */
static unsigned char *workload_setup(struct scenario_run *s, enum role role, int sock, struct region_desc *d,
				     struct region *wr, int *attached)
{
	struct content_model m = scenario_model(&s->sc);
	struct err e = {0};
	int fd, uffd = -1;
	*attached = 0;
	if (recv_fd(sock, &fd, d, sizeof *d)) {
		child_reply(s, role, 0, &(struct err){.set = 1, .msg = "no region description from the local side"});
		return NULL;
	}
	unsigned char *map = region_map(d, &m, &uffd, &e);
	*wr = (struct region){.sc = &s->sc, .kind = d->kind, .uffd = uffd, .addr = map, .size = d->size,
			      .workload_pid = getpid(), .report_fatal = region_report_fatal};
	if (map && d->in_workload) {
		fatal_run = s;
		fatal_role = role;
		*attached = workload_attach_approach(s, wr, &e) == 0;
		if (!*attached) {
			if (wr->uffd >= 0)
				close(wr->uffd);
			munmap(map, d->size);
			map = NULL;
		}
		uffd = -1; /* the approach's side in this process keeps it */
	}
	struct region_reply reply = {(uintptr_t)map, getpid(), map != NULL};
	if (!map) /* before the reply: the local side quotes it */
		snprintf(s->sh->err[role], sizeof s->sh->err[role], "%s", e.set ? e.msg : "failed");
	if (send_fd(sock, uffd, &reply, sizeof reply) || !map) {
		child_reply(s, role, 0, &e);
		return NULL;
	}
	if (uffd >= 0)
		close(uffd); /* the local side owns it now */
	child_reply(s, role, 1, NULL);
	return map;
}

/* CMD_RUN: run the workload (a writer in a migration runs until stop_writer). */
static int workload_cmd_run(struct scenario_run *s, enum role role, unsigned char *map, const struct region_desc *d,
			    struct err *e)
{
	uint64_t c0 = cpu_self_us();
	volatile int *stop = &s->sh->stop_writer;
	int ok = workload_run(&s->sc.wl, map, d->size, s->sc.seed, s->versions, stop, &s->sh->wres, e) == 0;
	/* The workload is done here. Flushing what it left dirty in the page
	 * cache belongs to the sync that follows (the runner adds it to sync_s)
	 * and, in a migration, to the downtime, which starts here. */
	uint64_t t_done = now_ns();
	if (d->kind == REGION_FILE && msync(map, d->size, MS_SYNC))
		ok = err_errno(e, errno, "msync of the region failed") == 0;
	s->sh->workload_flush_ns = now_ns() - t_done;
	if (*stop)
		s->sh->t_suspend_ns = t_done;
	s->sh->writer_stopped = 1;
	verify_inject_corruption(map, d->size);
	s->sh->cpu_us[role][0] = c0;
	s->sh->cpu_us[role][1] = cpu_self_us();
	return ok ? 0 : -1;
}

/* CMD_RESUME on the destination: downtime ends when the first access completes here. */
static int workload_cmd_resume(struct scenario_run *s, enum role role, const unsigned char *map,
			       const struct content_model *m, struct err *e)
{
	unsigned char buf[CONTENT_BLOCK];
	uint64_t t0 = now_ns();
	memcpy(buf, map, sizeof buf);
	/* Keep the copy: buf is otherwise dead and Release builds drop the access. */
	__asm__ __volatile__("" : : "r"(buf) : "memory");
	s->sh->t_resumed_ns = now_ns();
	s->sh->resume_first_access_ns = s->sh->t_resumed_ns - t0;
	return verify_mapping(map, m, &s->sh->bad_off[role], e);
}

/* The workload process (or the destination's): map, then run/verify on command. */
int child_workload_main(struct scenario_run *s, enum role role)
{
	int sock = role == ROLE_DEST_WORKLOAD ? s->pair_dest_wl[1] : s->pair_local_wl[1];
	struct content_model m = scenario_model(&s->sc);
	struct region_desc d;
	struct region wr;
	int attached;
	unsigned char *map = workload_setup(s, role, sock, &d, &wr, &attached);
	if (!map)
		return 1;
	struct err e = {0};
	for (char c; (c = child_next_cmd(s, role)) && c != CMD_QUIT;) {
		err_clear(&e);
		int ok;
		switch (c) {
		case CMD_RUN:
			ok = workload_cmd_run(s, role, map, &d, &e) == 0;
			break;
		case CMD_RESUME:
			ok = workload_cmd_resume(s, role, map, &m, &e) == 0;
			break;
		case CMD_VERIFY:
			ok = verify_mapping(map, &m, &s->sh->bad_off[role], &e) == 0;
			break;
		default:
			ok = err_set(&e, "unknown command '%c'", c) == 0;
		}
		child_reply(s, role, ok, &e);
	}
	if (attached && s->sc.ops->workload_detach)
		s->sc.ops->workload_detach(&wr);
	munmap(map, d.size);
	return 0;
}

/* The remote process: serve, verify on command, stop; serve_stop() after
 * every serve(), failed or not (the teardown contract, approach.h). */
int child_remote_main(struct scenario_run *s, enum role role)
{
	const struct approach_ops *ops = s->sc.ops;
	const struct topo_host *th = topo_host(s->topo, HOST_REMOTE);
	struct host h = {.sc = &s->sc, .name = role_names[role], .addr = th->addr, .port = s->sc.port};
	struct err e = {0};
	int ok = ops->serve(&h, &e) == 0;
	s->sh->port = h.port;
	child_reply(s, role, ok, &e);
	if (!ok) {
		ops->serve_stop(&h);
		return 1;
	}
	struct content_model m = scenario_model(&s->sc);
	for (char c; (c = child_next_cmd(s, role)) && c != CMD_QUIT;) {
		err_clear(&e);
		ok = 1;
		if (c == CMD_CPU)
			cpu_mark(s->sh, role);
		else if (c == CMD_VERIFY)
			ok = verify_remote(&h, &m, &s->sh->bad_off[role], &e) == 0;
		else
			ok = err_set(&e, "unknown command '%c'", c) == 0;
		child_reply(s, role, ok, &e);
	}
	ops->serve_stop(&h);
	return 0;
}
