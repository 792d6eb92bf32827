/*
 * runner.c - runs one scenario after another.
 *
 * For each scenario the runner builds the topology (network namespaces and a
 * shaped link), then forks the approach's processes into their hosts:
 *
 *   remote   (host 1)  serve(), later remote_read() for verification
 *   local    (host 0)  open()/attach(), sync(), migrate_source(), close()
 *   workload (host 0)  maps the region and runs the workload
 *   dest, dest-workload (host 2, migrations only)
 *
 * Each child talks to the runner over a socketpair with one-byte commands and
 * one-byte replies; results, error messages and CPU times go through one
 * shared-memory block, the content model's versions through another. The
 * local process and the workload share a socketpair of their own for the
 * region description and the userfaultfd (SCM_RIGHTS).
 *
 * Every phase has a timeout; a dead child or Ctrl-C ends the scenario,
 * children are killed, the topology is destroyed, and a record says why.
 */
#include "runner.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "log.h"
#include "netem/profile.h"
#include "netem/topology.h"
#include "record.h"
#include "sysinfo.h"
#include "uapi_compat.h"
#include "units.h"

/* Well-known ports inside the scenario's namespaces (each host has its own). */
#define RUNNER_PORT_REMOTE 10809  /* the remote side (NBD's IANA port) */
#define RUNNER_PORT_MIGRATE 10810 /* a migration source serving the destination */
#define RUNNER_PORT_CONTROL 10811 /* an approach's control channel or hub */

enum role { ROLE_REMOTE, ROLE_LOCAL, ROLE_WORKLOAD, ROLE_DEST, ROLE_DEST_WORKLOAD, NROLES };
static const char *const role_names[NROLES] = {"remote", "local", "workload", "dest", "dest-workload"};

/* Commands from the runner to a child (replies: CMD_OK or CMD_FAIL). */
enum {
	CMD_RUN = 'R',      /* workload: run it */
	CMD_VERIFY = 'V',   /* workload/remote: verify the content */
	CMD_SYNC = 'Y',     /* local: push changes */
	CMD_MIGRATE = 'M',  /* local: migrate_source() */
	CMD_CPU = 'C',      /* record a CPU-time mark */
	CMD_RESUME = 'U',   /* dest-workload: first access, then verify */
	CMD_QUIT = 'Q',
	CMD_OK = '0',
	CMD_FAIL = '1',
};

/* What the children report; lives in MAP_SHARED memory. */
struct shared {
	volatile int stop_writer;           /* migration: ask the writer to stop */
	volatile int writer_stopped;        /* the writer acknowledged */
	uint64_t t_suspend_ns;              /* writer stopped (downtime starts) */
	uint64_t t_resumed_ns;              /* first access done on the destination */
	uint64_t resume_first_access_ns;
	int port;                           /* port the remote (or dest) listens on */
	char err[NROLES][512];
	uint64_t cpu_us[NROLES][2];         /* user+sys at the two marks */
	int ncpu_marks[NROLES];
	struct workload_result wres, dres;
	uint64_t bad_off[NROLES];           /* first bad byte found by a verifier */
	struct { uint64_t faults, pulled, pushed, dirty; } counters[NROLES];
	uint64_t mig_rounds, mig_bytes_moved, mig_bytes_resent;
	volatile int async_fail;            /* role + 1 of a child whose approach reported a fatal error */
};

/* The description of the region sent from the local process to the workload. */
struct region_desc {
	int kind, wp, in_workload;
	uint64_t size;
	char path[PATH_MAX];
};

/* A child process and its command socket. */
struct child {
	pid_t pid;
	int sock;
	enum role role;
};

/* Everything about the scenario being run. */
struct scenario_run {
	const struct run_plan *plan;
	struct scenario sc;
	struct shared *sh;
	uint32_t *versions;
	size_t versions_len;
	struct topology *topo;
	struct child ch[NROLES];
	int pair_local_wl[2], pair_dest_wl[2];  /* local<->workload, dest<->dest-workload */
};

static volatile sig_atomic_t interrupted;

/* SIGINT/SIGTERM in the runner: finish the current phase as interrupted. */
static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

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
static void child_reply(struct scenario_run *s, enum role r, int ok, const struct err *e)
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
	struct { uint64_t addr; int pid; int ok; } reply;
	int fd;
	if (recv_fd(wl_sock, &fd, &reply, sizeof reply) || !reply.ok) {
		const char *why = s->sh->err[dest ? ROLE_DEST_WORKLOAD : ROLE_WORKLOAD];
		return err_set(e, "the workload could not map the region%s%s", *why ? ": " : " (see its error)", why);
	}
	r->addr = (void *)(uintptr_t)reply.addr;
	r->workload_pid = reply.pid;
	if (r->kind == REGION_ANON_UFFD && r->handler_in_workload) {
		/* The workload kept the uffd and started the approach's side (workload_attach). */
		if (fd >= 0)
			close(fd);
		if (ops->attach && ops->attach(r, e))
			return -1;
	} else if (r->kind == REGION_ANON_UFFD) {
		if (fd < 0)
			return err_set(e, "no userfaultfd received from the workload");
		r->uffd = fd;
		if (!ops->attach)
			return err_set(e, "approach %s maps REGION_ANON_UFFD but has no attach hook", ops->name);
		if (ops->attach(r, e))
			return -1;
	} else if (r->kind == REGION_FILE && fd >= 0) {
		/* The workload registered its file mapping for async write-protect
		 * dirty tracking (uffd_register_wp): the approach keeps the uffd. */
		r->uffd = fd;
		if (ops->attach && ops->attach(r, e))
			return -1;
	} else if (fd >= 0) {
		close(fd);
	}
	return 0;
}

/* Copy the approach's counters into the shared block. */
static void publish_counters(struct scenario_run *s, enum role role, const struct region *r)
{
	s->sh->counters[role].faults = r->faults;
	s->sh->counters[role].pulled = r->bytes_pulled;
	s->sh->counters[role].pushed = r->bytes_pushed;
	s->sh->counters[role].dirty = r->chunks_dirty;
}

/* Harness callback for migrate_source(): stop the writer, start the downtime clock. */
static int suspend_writer(struct migration *m, struct err *e)
{
	struct scenario_run *s = m->harness;
	s->sh->stop_writer = 1;
	uint64_t deadline = now_ns() + 10000000000ull;
	while (!s->sh->writer_stopped) {
		if (now_ns() > deadline)
			return err_set(e, "the writer did not stop within 10 s");
		usleep(50);
	}
	s->sh->t_suspend_ns = now_ns();
	return 0;
}

/* The local (or dest) process: open, then serve sync/migrate commands. */
static int local_main(struct scenario_run *s, enum role role)
{
	const struct approach_ops *ops = s->sc.ops;
	int dest = role == ROLE_DEST;
	int wl_sock = dest ? s->pair_dest_wl[0] : s->pair_local_wl[0];
	struct region r;
	struct err e = {0};
	int ok = local_open(s, &r, wl_sock, dest, &e) == 0;
	child_reply(s, role, ok, &e);
	if (!ok) {
		if (r.priv)
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
		case CMD_MIGRATE: {
			struct migration m = {.suspend_source = suspend_writer, .harness = s};
			ok = ops->migrate_source(&r, &m, &e) == 0;
			s->sh->mig_rounds = m.rounds;
			s->sh->mig_bytes_moved = m.bytes_moved;
			s->sh->mig_bytes_resent = m.bytes_resent;
			break;
		}
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

/* REGION_FILE with wp: register the file mapping with userfaultfd in
 * asynchronous write-protect mode (Linux 6.7+), so the local side can find
 * the written pages with PAGEMAP_SCAN on /proc/PID/pagemap; the descriptor
 * is handed to the local side, which keeps the registration alive. */
static int workload_track_file(void *map, uint64_t size, int *uffd_out, struct err *e)
{
	int uffd = userfaultfd_open();
	if (uffd < 0)
		return err_errno(e, errno, "userfaultfd() for write tracking failed");
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_ASYNC |
					     UFFD_FEATURE_WP_UNPOPULATED};
	struct uffdio_register reg = {.range = {(uintptr_t)map, size}, .mode = UFFDIO_REGISTER_MODE_WP};
	if (ioctl(uffd, UFFDIO_API, &api)) {
		err_errno(e, errno, "UFFDIO_API with UFFD_FEATURE_WP_ASYNC failed (needs Linux 6.7+)");
	} else if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		err_errno(e, errno, "UFFDIO_REGISTER (write-protect) of the file mapping failed");
	} else {
		*uffd_out = uffd;
		return 0;
	}
	close(uffd);
	return -1;
}

/* Map the region as described; for uffd, create and register the descriptor. */
static unsigned char *workload_map(const struct region_desc *d, const struct content_model *m, int *uffd_out,
				   struct err *e)
{
	unsigned char *map;
	*uffd_out = -1;
	if (d->kind == REGION_FILE) {
		int fd = open(d->path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return err_errno(e, errno, "cannot open region %s", d->path), NULL;
		map = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		int saved = errno;
		close(fd);
		if (map == MAP_FAILED)
			return err_errno(e, saved, "cannot mmap %s", d->path), NULL;
		if (d->wp && workload_track_file(map, d->size, uffd_out, e)) {
			munmap(map, d->size);
			return NULL;
		}
		return map;
	}
	map = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return err_errno(e, errno, "cannot map %llu bytes of anonymous memory", (unsigned long long)d->size), NULL;
	if (d->kind == REGION_ANON) {
		content_fill(m, map, 0, d->size);
		return map;
	}
	int uffd = userfaultfd_open();
	if (uffd < 0) {
		err_errno(e, errno, "userfaultfd() failed (vm.unprivileged_userfaultfd or CAP_SYS_PTRACE?)");
		goto fail;
	}
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	if (d->wp)
		api.features |= UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	if (ioctl(uffd, UFFDIO_API, &api)) {
		err_errno(e, errno, "UFFDIO_API failed%s", d->wp ? " (write-protect mode unsupported?)" : "");
		goto fail;
	}
	struct uffdio_register reg = {.range = {(uintptr_t)map, d->size}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (d->wp)
		reg.mode |= UFFDIO_REGISTER_MODE_WP;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		err_errno(e, errno, "UFFDIO_REGISTER failed");
		goto fail;
	}
	*uffd_out = uffd;
	return map;
fail:
	if (uffd >= 0)
		close(uffd);
	munmap(map, d->size);
	return NULL;
}

/* Check the whole mapping against the model; records the first bad offset. */
static int verify_mapping(const unsigned char *map, const struct content_model *m, uint64_t *bad, struct err *e)
{
	if (content_check(m, map, 0, m->size, bad) == 0)
		return 0;
	return err_set(e, "content differs at byte %llu (block %llu, expected version %u)", (unsigned long long)*bad,
		       (unsigned long long)(*bad / CONTENT_BLOCK), content_version(m, *bad));
}

/* Test hook: MEMSYNC_INJECT_CORRUPTION=OFFSET flips one byte of the mapping
 * after the workload, so tests can prove that verification catches it. */
static void inject_corruption(unsigned char *map, uint64_t size)
{
	const char *v = getenv("MEMSYNC_INJECT_CORRUPTION");
	if (!v || !*v)
		return;
	uint64_t off = strtoull(v, NULL, 0);
	if (off < size) {
		map[off] ^= 0x5a;
		log_warn("MEMSYNC_INJECT_CORRUPTION: flipped byte %llu of the region", (unsigned long long)off);
	}
}

/* The workload process (or the destination's): map, then run/verify on command. */
static int workload_main(struct scenario_run *s, enum role role)
{
	int dest = role == ROLE_DEST_WORKLOAD;
	int sock = dest ? s->pair_dest_wl[1] : s->pair_local_wl[1];
	struct content_model m = scenario_model(&s->sc);
	struct region_desc d;
	struct err e = {0};
	int fd;
	if (recv_fd(sock, &fd, &d, sizeof d)) {
		child_reply(s, role, 0, &(struct err){.set = 1, .msg = "no region description from the local side"});
		return 1;
	}
	int uffd;
	unsigned char *map = workload_map(&d, &m, &uffd, &e);
	/* The approach's side in this process (handler_in_workload): it keeps the uffd. */
	struct region wr = {.sc = &s->sc, .kind = d.kind, .uffd = uffd, .addr = map, .size = d.size,
			    .workload_pid = getpid(), .report_fatal = region_report_fatal};
	int attached = 0;
	if (map && d.in_workload) {
		fatal_run = s;
		fatal_role = role;
		if (!s->sc.ops->workload_attach)
			err_set(&e, "approach %s keeps its handler in the workload but has no workload_attach hook",
				s->sc.ops->name);
		else if (s->sc.ops->workload_attach(&s->sc, &wr, &e) == 0)
			attached = 1;
		if (!attached) {
			if (wr.uffd >= 0)
				close(wr.uffd);
			munmap(map, d.size);
			map = NULL;
		}
		uffd = -1;
	}
	struct { uint64_t addr; int pid; int ok; } reply = {(uintptr_t)map, getpid(), map != NULL};
	if (!map) /* before the reply: the local side quotes it */
		snprintf(s->sh->err[role], sizeof s->sh->err[role], "%s", e.set ? e.msg : "failed");
	if (send_fd(sock, uffd, &reply, sizeof reply) || !map) {
		child_reply(s, role, 0, &e);
		return 1;
	}
	if (uffd >= 0)
		close(uffd); /* the local side owns it now */
	child_reply(s, role, 1, NULL);
	for (char c; (c = child_next_cmd(s, role)) && c != CMD_QUIT;) {
		err_clear(&e);
		int ok = 1;
		switch (c) {
		case CMD_RUN: {
			uint64_t c0 = cpu_self_us();
			volatile int *stop = &s->sh->stop_writer;
			ok = workload_run(&s->sc.wl, map, d.size, s->sc.seed, s->versions, stop, &s->sh->wres, &e) == 0;
			if (d.kind == REGION_FILE && msync(map, d.size, MS_SYNC))
				ok = err_errno(&e, errno, "msync of the region failed") == 0;
			s->sh->writer_stopped = 1;
			inject_corruption(map, d.size);
			s->sh->cpu_us[role][0] = c0;
			s->sh->cpu_us[role][1] = cpu_self_us();
			break;
		}
		case CMD_RESUME: {
			/* Downtime ends when the first access completes here. */
			unsigned char buf[CONTENT_BLOCK];
			uint64_t t0 = now_ns();
			memcpy(buf, map, sizeof buf);
			/* Keep the copy: buf is otherwise dead and Release builds drop the access. */
			__asm__ __volatile__("" : : "r"(buf) : "memory");
			s->sh->t_resumed_ns = now_ns();
			s->sh->resume_first_access_ns = s->sh->t_resumed_ns - t0;
			ok = verify_mapping(map, &m, &s->sh->bad_off[role], &e) == 0;
			break;
		}
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

/* The remote process: serve, verify on command, stop. */
static int remote_main(struct scenario_run *s, enum role role)
{
	const struct approach_ops *ops = s->sc.ops;
	const struct topo_host *th = topo_host(s->topo, role == ROLE_REMOTE ? 1 : 2);
	struct host h = {.sc = &s->sc, .name = role_names[role], .addr = th->addr, .port = s->sc.port};
	struct err e = {0};
	int ok = ops->serve(&h, &e) == 0;
	s->sh->port = h.port;
	child_reply(s, role, ok, &e);
	if (!ok)
		return 1;
	struct content_model m = scenario_model(&s->sc);
	const size_t step = 4 << 20;
	unsigned char *buf = malloc(step);
	for (char c; (c = child_next_cmd(s, role)) && c != CMD_QUIT;) {
		err_clear(&e);
		ok = 1;
		if (c == CMD_CPU) {
			cpu_mark(s->sh, role);
		} else if (c == CMD_VERIFY) {
			for (uint64_t off = 0; ok && off < s->sc.size; off += step) {
				size_t n = s->sc.size - off < step ? s->sc.size - off : step;
				uint64_t bad;
				if (!buf || ops->remote_read(&h, buf, n, off, &e))
					ok = 0;
				else if (content_check(&m, buf, off, n, &bad)) {
					s->sh->bad_off[role] = bad;
					ok = err_set(&e, "remote copy differs at byte %llu (block %llu, expected version %u)",
						     (unsigned long long)bad, (unsigned long long)(bad / CONTENT_BLOCK),
						     content_version(&m, bad)) == 0;
				}
			}
		} else {
			ok = err_set(&e, "unknown command '%c'", c) == 0;
		}
		child_reply(s, role, ok, &e);
	}
	free(buf);
	ops->serve_stop(&h);
	return 0;
}

/* Fork a child for a role in its host's namespace. */
static int spawn(struct scenario_run *s, enum role role, int host, struct err *e)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return err_errno(e, errno, "socketpair");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return err_errno(e, errno, "fork");
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGINT, SIG_IGN); /* the runner decides; it kills us on Ctrl-C */
		signal(SIGTERM, SIG_DFL);
		close(sv[0]);
		s->ch[role].sock = sv[1];
		struct err ce = {0};
		if (topo_enter(s->topo, host, &ce)) {
			child_reply(s, role, 0, &ce);
			_exit(1);
		}
		int rc;
		if (role == ROLE_REMOTE)
			rc = remote_main(s, role);
		else if (role == ROLE_LOCAL || role == ROLE_DEST)
			rc = local_main(s, role);
		else
			rc = workload_main(s, role);
		_exit(rc);
	}
	close(sv[1]);
	s->ch[role].pid = pid;
	s->ch[role].sock = sv[0];
	s->ch[role].role = role;
	return 0;
}

/* Runner side: wait for a child's reply to the last command (or its start). */
static int await(struct scenario_run *s, enum role role, const char *what, struct err *e)
{
	struct child *c = &s->ch[role];
	uint64_t deadline = now_ns() + s->plan->timeout_ns;
	for (;;) {
		if (interrupted)
			return err_set(e, "interrupted while %s", what);
		int af = __atomic_load_n(&s->sh->async_fail, __ATOMIC_ACQUIRE);
		/* A role's own report fails the phase too when it is a workload: it
		 * may be stuck in a fault its own (in-process) handler gave up on. */
		if (af && (af - 1 != (int)role || role == ROLE_WORKLOAD || role == ROLE_DEST_WORKLOAD))
			return err_set(e, "%s: %s (while %s)", role_names[af - 1], s->sh->err[af - 1], what);
		uint64_t now = now_ns();
		if (now >= deadline)
			return err_set(e, "%s process timed out while %s (%.0f s)", role_names[role], what,
				       (double)s->plan->timeout_ns / 1e9);
		struct pollfd p = {c->sock, POLLIN, 0};
		int n = poll(&p, 1, 200);
		if (n < 0 && errno != EINTR)
			return err_errno(e, errno, "poll");
		if (n <= 0)
			continue;
		char r;
		ssize_t got = read(c->sock, &r, 1);
		if (got == 1 && r == CMD_OK)
			return 0;
		if (got == 1)
			return err_set(e, "%s: %s", role_names[role], s->sh->err[role][0] ? s->sh->err[role] : "failed");
		int status = 0;
		if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
			c->pid = 0;
			if (WIFSIGNALED(status))
				return err_set(e, "%s process died from signal %d (%s) while %s", role_names[role],
					       WTERMSIG(status), strsignal(WTERMSIG(status)), what);
		}
		return err_set(e, "%s process exited while %s%s%s", role_names[role], what,
			       s->sh->err[role][0] ? ": " : "", s->sh->err[role]);
	}
}

/* Send a command and wait for its reply. */
static int command(struct scenario_run *s, enum role role, char cmd, const char *what, struct err *e)
{
	if (!s->ch[role].pid)
		return err_set(e, "%s process is not running", role_names[role]);
	if (write(s->ch[role].sock, &cmd, 1) != 1)
		return err_errno(e, errno, "%s process is gone (while %s)", role_names[role], what);
	return await(s, role, what, e);
}

/* Stop every child: QUIT, then SIGTERM, then SIGKILL; reap all. */
static void stop_children(struct scenario_run *s)
{
	for (int r = NROLES - 1; r >= 0; r--) {
		struct child *c = &s->ch[r];
		if (!c->pid)
			continue;
		char q = CMD_QUIT;
		if (write(c->sock, &q, 1) != 1) {
			/* already gone */
		}
		uint64_t deadline = now_ns() + 5000000000ull;
		int status, sent_term = 0;
		while (waitpid(c->pid, &status, WNOHANG) == 0) {
			if (now_ns() > deadline) {
				kill(c->pid, SIGKILL);
				waitpid(c->pid, &status, 0);
				break;
			}
			if (!sent_term && now_ns() + 3000000000ull > deadline) {
				kill(c->pid, SIGTERM);
				sent_term = 1;
			}
			usleep(2000);
		}
		c->pid = 0;
	}
	for (int r = 0; r < NROLES; r++)
		if (s->ch[r].sock > 0) {
			close(s->ch[r].sock);
			s->ch[r].sock = -1;
		}
}

/* Which netem driver a scenario uses: none unless the approach has a remote side. */
static enum netem_driver scenario_driver(const struct run_plan *p, const struct approach_ops *ops)
{
	if (!(ops->caps & CAP_REMOTE))
		return NETEM_NONE;
	return (enum netem_driver)p->netem_driver;
}

/* Sum of CPU seconds of a role between its two marks. */
static double role_cpu_s(const struct shared *sh, enum role r)
{
	if (sh->cpu_us[r][1] < sh->cpu_us[r][0])
		return 0;
	return (double)(sh->cpu_us[r][1] - sh->cpu_us[r][0]) / 1e6;
}

/* Write the scenario's record. */
static void write_record(FILE *f, struct scenario_run *s, int index, const char *status, const struct err *e,
			 const struct link_counters *wire, double sync_s, int remote_verified)
{
	const struct scenario *sc = &s->sc;
	const struct shared *sh = s->sh;
	const struct workload_result *w = &sh->wres;
	struct record r;
	rec_begin(&r);
	rec_str(&r, "type", "scenario");
	rec_u64(&r, "index", (uint64_t)index);
	rec_str(&r, "approach", sc->ops->name);
	rec_str(&r, "workload", sc->wl.name);
	rec_str(&r, "pattern", workload_pattern_name(sc->wl.pattern));
	rec_str(&r, "profile", sc->profile);
	rec_str(&r, "netem", s->topo ? topo_driver_name(s->topo) : "none");
	rec_str(&r, "mode", s->plan->migrate ? "migrate" : "access");
	rec_u64(&r, "size", sc->size);
	rec_u64(&r, "access_size", sc->wl.access_size);
	rec_f64(&r, "write_fraction", sc->wl.write_fraction);
	rec_u64(&r, "seed", sc->seed);
	rec_obj(&r, "options");
	for (int i = 0; i < sc->nopts; i++)
		rec_str(&r, sc->opts[i].key, sc->opts[i].val);
	rec_end_obj(&r);
	rec_str(&r, "status", status);
	if (e && e->set)
		rec_str(&r, "reason", e->msg);
	else
		rec_null(&r, "reason");
	rec_bool(&r, "verified", !strcmp(status, "pass"));
	rec_str(&r, "verified_remote", remote_verified > 0 ? "yes" : remote_verified == 0 ? "no" : "n/a");
	if (!strcmp(status, "skip")) {
		rec_write(&r, f);
		return;
	}
	double secs = (double)w->elapsed_ns / 1e9;
	uint64_t bytes = w->bytes_read + w->bytes_written;
	rec_f64(&r, "elapsed_s", secs);
	rec_u64(&r, "bytes_read", w->bytes_read);
	rec_u64(&r, "bytes_written", w->bytes_written);
	rec_u64(&r, "accesses", w->accesses);
	rec_f64(&r, "throughput_mb_s", secs > 0 ? (double)bytes / secs / 1e6 : 0);
	rec_f64(&r, "sync_s", sync_s);
	rec_f64(&r, "throughput_with_sync_mb_s", secs + sync_s > 0 ? (double)bytes / (secs + sync_s) / 1e6 : 0);
	rec_u64(&r, "first_access_ns", w->first_access_ns);
	rec_hist(&r, "read_latency", &w->read_lat);
	rec_hist(&r, "write_latency", &w->write_lat);
	double cw = role_cpu_s(sh, ROLE_WORKLOAD), cl = role_cpu_s(sh, ROLE_LOCAL), cr = role_cpu_s(sh, ROLE_REMOTE);
	rec_obj(&r, "cpu_s");
	rec_f64(&r, "workload", cw);
	rec_f64(&r, "local", cl);
	rec_f64(&r, "remote", cr);
	rec_f64(&r, "total", cw + cl + cr);
	rec_f64(&r, "per_gib", bytes ? (cw + cl + cr) / ((double)bytes / 1073741824.0) : 0);
	rec_end_obj(&r);
	rec_obj(&r, "wire");
	rec_u64(&r, "bytes_out", wire->bytes[0]);
	rec_u64(&r, "bytes_in", wire->bytes[1]);
	rec_u64(&r, "packets_out", wire->packets[0]);
	rec_u64(&r, "packets_in", wire->packets[1]);
	rec_u64(&r, "drops", wire->drops[0] + wire->drops[1]);
	rec_end_obj(&r);
	rec_obj(&r, "approach_stats");
	rec_u64(&r, "faults", sh->counters[ROLE_LOCAL].faults);
	rec_u64(&r, "bytes_pulled", sh->counters[ROLE_LOCAL].pulled);
	rec_u64(&r, "bytes_pushed", sh->counters[ROLE_LOCAL].pushed);
	rec_u64(&r, "chunks_dirty", sh->counters[ROLE_LOCAL].dirty);
	rec_end_obj(&r);
	if (s->plan->migrate) {
		rec_obj(&r, "migration");
		double down = sh->t_resumed_ns > sh->t_suspend_ns && sh->t_suspend_ns
				      ? (double)(sh->t_resumed_ns - sh->t_suspend_ns) / 1e9
				      : -1;
		rec_f64(&r, "downtime_s", down);
		rec_u64(&r, "resume_first_access_ns", sh->resume_first_access_ns);
		rec_u64(&r, "rounds", sh->mig_rounds);
		rec_u64(&r, "bytes_moved", sh->mig_bytes_moved);
		rec_u64(&r, "bytes_resent", sh->mig_bytes_resent);
		rec_u64(&r, "dest_faults", sh->counters[ROLE_DEST].faults);
		rec_u64(&r, "dest_bytes_pulled", sh->counters[ROLE_DEST].pulled);
		rec_end_obj(&r);
	}
	if (rec_write(&r, f))
		log_warn("cannot write the result record (too large or I/O error)");
}

/* Counters of the link now (zeros without a topology). */
static void wire_now(struct scenario_run *s, struct link_counters *c)
{
	memset(c, 0, sizeof *c);
	struct err e = {0};
	if (s->topo && topo_counters(s->topo, c, &e))
		log_warn("link counters unavailable: %s", e.msg);
}

/* Difference of two counter snapshots. */
static struct link_counters wire_delta(const struct link_counters *a, const struct link_counters *b)
{
	struct link_counters d;
	for (int i = 0; i < 2; i++) {
		d.bytes[i] = b->bytes[i] - a->bytes[i];
		d.packets[i] = b->packets[i] - a->packets[i];
		d.drops[i] = b->drops[i] - a->drops[i];
	}
	return d;
}

/* The phases of an access scenario: start sides, run, sync, verify. */
static int run_access(struct scenario_run *s, double *sync_s, int *remote_verified, struct link_counters *wire,
		      struct err *e)
{
	const struct approach_ops *ops = s->sc.ops;
	int remote = (ops->caps & CAP_REMOTE) != 0;
	if (remote) {
		if (spawn(s, ROLE_REMOTE, 1, e) || await(s, ROLE_REMOTE, "starting to serve", e))
			return -1;
		s->sc.port = s->sh->port;
	}
	if (spawn(s, ROLE_LOCAL, 0, e) || spawn(s, ROLE_WORKLOAD, 0, e))
		return -1;
	if (await(s, ROLE_LOCAL, "opening the region", e) || await(s, ROLE_WORKLOAD, "mapping the region", e))
		return -1;
	struct link_counters w0, w1;
	wire_now(s, &w0);
	if (command(s, ROLE_LOCAL, CMD_CPU, "marking CPU", e) ||
	    (remote && command(s, ROLE_REMOTE, CMD_CPU, "marking CPU", e)))
		return -1;
	if (command(s, ROLE_WORKLOAD, CMD_RUN, "running the workload", e))
		return -1;
	uint64_t t0 = now_ns();
	if (command(s, ROLE_LOCAL, CMD_SYNC, "syncing", e))
		return -1;
	*sync_s = (double)(now_ns() - t0) / 1e9;
	if (command(s, ROLE_LOCAL, CMD_CPU, "marking CPU", e) ||
	    (remote && command(s, ROLE_REMOTE, CMD_CPU, "marking CPU", e)))
		return -1;
	wire_now(s, &w1);
	*wire = wire_delta(&w0, &w1);
	if (command(s, ROLE_WORKLOAD, CMD_VERIFY, "verifying the local view", e))
		return -1;
	if (remote) {
		*remote_verified = 0;
		if (command(s, ROLE_REMOTE, CMD_VERIFY, "verifying the remote copy", e))
			return -1;
		*remote_verified = 1;
	}
	return 0;
}

/* The phases of a migration: source and destination up, writer runs, switch, resume, verify. */
static int run_migration(struct scenario_run *s, double *sync_s, int *remote_verified, struct link_counters *wire,
			 struct err *e)
{
	const struct approach_ops *ops = s->sc.ops;
	int remote = (ops->caps & CAP_REMOTE) && ops->serve;
	if (remote) {
		if (spawn(s, ROLE_REMOTE, 1, e) || await(s, ROLE_REMOTE, "starting to serve", e))
			return -1;
		s->sc.port = s->sh->port;
	}
	if (spawn(s, ROLE_LOCAL, 0, e) || spawn(s, ROLE_WORKLOAD, 0, e) ||
	    await(s, ROLE_LOCAL, "opening the source region", e) || await(s, ROLE_WORKLOAD, "mapping the source region", e))
		return -1;
	if (spawn(s, ROLE_DEST, 2, e) || spawn(s, ROLE_DEST_WORKLOAD, 2, e) ||
	    await(s, ROLE_DEST, "opening the destination region", e) ||
	    await(s, ROLE_DEST_WORKLOAD, "mapping the destination region", e))
		return -1;
	struct link_counters w0, w1;
	wire_now(s, &w0);
	/* The writer runs until suspended; the runner does not wait for it here. */
	char run = CMD_RUN;
	if (write(s->ch[ROLE_WORKLOAD].sock, &run, 1) != 1)
		return err_errno(e, errno, "workload process is gone");
	struct timespec ts = {(time_t)(s->plan->migrate_after_ns / 1000000000ull),
			      (long)(s->plan->migrate_after_ns % 1000000000ull)};
	nanosleep(&ts, NULL);
	uint64_t t0 = now_ns();
	if (command(s, ROLE_LOCAL, CMD_MIGRATE, "migrating", e))
		return -1;
	if (!s->sh->writer_stopped)
		return err_set(e, "migrate_source() returned without suspending the writer");
	if (await(s, ROLE_WORKLOAD, "stopping the writer", e))
		return -1;
	if (command(s, ROLE_DEST_WORKLOAD, CMD_RESUME, "resuming on the destination", e))
		return -1;
	*sync_s = (double)(now_ns() - t0) / 1e9;
	wire_now(s, &w1);
	*wire = wire_delta(&w0, &w1);
	*remote_verified = 1;
	return 0;
}

/* Fill the per-scenario fields of sc. */
static int scenario_setup(struct scenario_run *s, const struct approach_ops *ops, const struct workload *wl,
			  const char *profile, int index, struct err *e)
{
	const struct run_plan *p = s->plan;
	struct scenario *sc = &s->sc;
	memset(sc, 0, sizeof *sc);
	sc->ops = ops;
	sc->wl = *wl;
	sc->size = p->size;
	sc->seed = p->seed + (uint64_t)index;
	snprintf(sc->profile, sizeof sc->profile, "%s", profile);
	for (int i = 0; i < p->nopts; i++) {
		snprintf(sc->opts[i].key, sizeof sc->opts[i].key, "%s", p->opts[i][0]);
		snprintf(sc->opts[i].val, sizeof sc->opts[i].val, "%s", p->opts[i][1]);
	}
	sc->nopts = p->nopts;
	snprintf(sc->workdir, sizeof sc->workdir, "%s/memsync-%d-%d", p->workroot, (int)getpid(), index);
	if (mkdir(sc->workdir, 0700) && errno != EEXIST)
		return err_errno(e, errno, "cannot create %s", sc->workdir);
	s->versions_len = (sc->size / CONTENT_BLOCK) * sizeof(uint32_t);
	s->versions = mmap(NULL, s->versions_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	s->sh = mmap(NULL, sizeof *s->sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->versions == MAP_FAILED || s->sh == MAP_FAILED)
		return err_errno(e, errno, "cannot map shared memory");
	sc->versions = s->versions;
	return 0;
}

/* Remove a scratch directory tree (files and one level of subdirectories). */
static void remove_tree(const char *dir)
{
	pid_t pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--one-file-system", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* Run one scenario end to end and write its record; returns 1 pass, 0 fail, 2 skip, -1 interrupted. */
static int run_scenario(const struct run_plan *p, FILE *out, const struct approach_ops *ops,
			const struct workload *wl, const char *profile, int index)
{
	struct scenario_run s = {.plan = p};
	for (int r = 0; r < NROLES; r++)
		s.ch[r].sock = -1;
	s.pair_local_wl[0] = s.pair_local_wl[1] = s.pair_dest_wl[0] = s.pair_dest_wl[1] = -1;
	struct err e = {0}, skip = {0};
	double sync_s = 0;
	int remote_verified = -1, rc;
	struct link_counters wire = {0};
	const char *status = "fail";

	if (scenario_setup(&s, ops, wl, profile, index, &e))
		goto record;
	if (ops->unsupported) {
		err_set(&skip, "%s", ops->unsupported);
		goto record;
	}
	if (p->migrate && !(ops->caps & CAP_MIGRATE)) {
		err_set(&skip, "approach %s does not implement migration", ops->name);
		goto record;
	}
	if (ops->probe && ops->probe(&skip))
		goto record;
	if (workload_validate(&s.sc.wl, s.sc.size, &e))
		goto record;

	struct netem_profile prof;
	if (profile_load(profile, &prof, &e))
		goto record;
	enum netem_driver drv = scenario_driver(p, ops);
	if (topo_create(&s.topo, &prof, p->migrate ? 3 : 2, drv, &e))
		goto record;
	snprintf(s.sc.local_addr, sizeof s.sc.local_addr, "%s", topo_host(s.topo, 0)->addr);
	snprintf(s.sc.remote_addr, sizeof s.sc.remote_addr, "%s", topo_host(s.topo, 1)->addr);
	if (p->migrate)
		snprintf(s.sc.third_addr, sizeof s.sc.third_addr, "%s", topo_host(s.topo, 2)->addr);
	s.sc.mode = p->migrate ? MODE_MIGRATE : MODE_ACCESS;
	if (assign_ports(&s.sc, drv == NETEM_NONE, &e))
		goto record;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.pair_local_wl) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.pair_dest_wl)) {
		err_errno(&e, errno, "socketpair");
		goto record;
	}
	rc = p->migrate ? run_migration(&s, &sync_s, &remote_verified, &wire, &e)
			: run_access(&s, &sync_s, &remote_verified, &wire, &e);
	if (rc == 0)
		status = "pass";

record:
	if (skip.set) {
		status = "skip";
		e = skip;
	}
	stop_children(&s);
	if (ops->cleanup_stale) /* a killed child's mount or device */
		ops->cleanup_stale();
	for (int i = 0; i < 2; i++) {
		if (s.pair_local_wl[i] >= 0)
			close(s.pair_local_wl[i]);
		if (s.pair_dest_wl[i] >= 0)
			close(s.pair_dest_wl[i]);
	}
	if (interrupted)
		status = "interrupted";
	if (s.sh && s.sh != MAP_FAILED)
		write_record(out, &s, index, status, &e, &wire, sync_s, remote_verified);
	if (s.topo)
		topo_destroy(s.topo);
	if (!strcmp(status, "fail"))
		log_warn("FAIL %s/%s/%s: %s", ops->name, wl->name, profile, e.msg);
	else if (!strcmp(status, "skip"))
		log_info("skip %s/%s/%s: %s", ops->name, wl->name, profile, e.msg);
	else if (!strcmp(status, "pass")) {
		const struct workload_result *w = &s.sh->wres;
		double secs = (double)w->elapsed_ns / 1e9;
		log_info("pass %s/%s/%s: %.1f MB/s, first access %.1f us, p99 %.1f us%s", ops->name, wl->name, profile,
			 secs > 0 ? (double)(w->bytes_read + w->bytes_written) / secs / 1e6 : 0,
			 (double)w->first_access_ns / 1e3,
			 (double)hist_percentile(w->bytes_read ? &w->read_lat : &w->write_lat, 99) / 1e3,
			 p->migrate ? "" : "");
	}
	if (s.sc.workdir[0])
		remove_tree(s.sc.workdir);
	if (s.versions && s.versions != MAP_FAILED)
		munmap(s.versions, s.versions_len);
	if (s.sh && s.sh != MAP_FAILED)
		munmap(s.sh, sizeof *s.sh);
	if (interrupted)
		return -1;
	return !strcmp(status, "pass") ? 1 : !strcmp(status, "skip") ? 2 : 0;
}

/* Run the cartesian product approaches x workloads x profiles x repeat. */
int runner_run(const struct run_plan *p, struct run_totals *t, struct err *e)
{
	memset(t, 0, sizeof *t);
	FILE *out = fopen(p->out_path, "a");
	if (!out)
		return err_errno(e, errno, "cannot open %s", p->out_path);
	struct err ce = {0};
	if (topo_cleanup_stale(&ce))
		log_warn("cleaning up after an earlier run: %s", ce.msg);
	for (int i = 0; approach_registry[i]; i++)
		if (approach_registry[i]->cleanup_stale)
			approach_registry[i]->cleanup_stale();
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signal(SIGPIPE, SIG_IGN);

	const char *drv = p->netem_driver == NETEM_AUTO ? (netem_tc_available() ? "tc" : "user")
							: p->netem_driver == NETEM_TC ? "tc"
							: p->netem_driver == NETEM_USER ? "user" : "none";
	runner_write_header(out, p, drv);
	int total = p->napproaches * p->nworkloads * p->nprofiles * p->repeat, i = 0, rc = 0;
	uint64_t start = now_ns();
	for (int a = 0; a < p->napproaches && !rc; a++)
		for (int pr = 0; pr < p->nprofiles && !rc; pr++)
			for (int w = 0; w < p->nworkloads && !rc; w++)
				for (int rep = 0; rep < p->repeat && !rc; rep++) {
					uint64_t el = now_ns() - start;
					double eta = i ? (double)el / i * (total - i) / 1e9 : 0;
					log_info("[%d/%d] %s / %s / %s%s (elapsed %.0f s, ETA %.0f s)", i + 1, total,
						 p->approaches[a]->name, p->workloads[w].name, p->profiles[pr],
						 p->migrate ? " / migrate" : "", (double)el / 1e9, eta);
					int r = run_scenario(p, out, p->approaches[a], &p->workloads[w], p->profiles[pr], i);
					if (r < 0) {
						rc = err_set(e, "interrupted");
						break;
					}
					if (r == 1)
						t->passed++;
					else if (r == 2)
						t->skipped++;
					else
						t->failed++;
					i++;
				}
	fclose(out);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}

/* The run header: tool, build, machine and every parameter. */
int runner_write_header(FILE *f, const struct run_plan *p, const char *netem_driver)
{
	struct sysinfo_facts si;
	sysinfo_collect(&si);
	struct record r;
	rec_begin(&r);
	rec_str(&r, "type", "header");
	sysinfo_record(&r, &si);
	rec_str(&r, "netem_driver", netem_driver);
	rec_str(&r, "command", p->cmdline);
	rec_obj(&r, "params");
	char list[1024] = "";
	for (int i = 0; i < p->napproaches; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", p->approaches[i]->name);
	rec_str(&r, "approaches", list);
	list[0] = '\0';
	for (int i = 0; i < p->nworkloads; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", p->workloads[i].name);
	rec_str(&r, "workloads", list);
	list[0] = '\0';
	for (int i = 0; i < p->nprofiles; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", p->profiles[i]);
	rec_str(&r, "profiles", list);
	rec_u64(&r, "size", p->size);
	rec_u64(&r, "seed", p->seed);
	rec_u64(&r, "repeat", (uint64_t)p->repeat);
	rec_bool(&r, "migrate", p->migrate);
	rec_f64(&r, "migrate_after_s", (double)p->migrate_after_ns / 1e9);
	rec_f64(&r, "timeout_s", (double)p->timeout_ns / 1e9);
	rec_obj(&r, "options");
	for (int i = 0; i < p->nopts; i++)
		rec_str(&r, p->opts[i][0], p->opts[i][1]);
	rec_end_obj(&r);
	rec_end_obj(&r);
	return rec_write(&r, f);
}
