/*
 * uffd_inproc.c - handler=inprocess: the uffd approach's threads run inside
 * the workload process instead of the local process.
 *
 * open() in the local process only checks the options and sets
 * region->handler_in_workload. The workload maps and registers the region,
 * keeps its userfaultfd and calls workload_attach() (harness hook), which
 * builds the same struct uffd the local process would and starts the same
 * threads (uffd.c, unchanged: connections, fault handlers, puller, pusher,
 * watchdog); dirty chunks are read with memcpy instead of process_vm_readv.
 * A control thread listens on a UNIX socket in the scenario's workdir; the
 * local process's sync() forwards to it (one command byte; one reply with
 * the result, the error text and the counters). close() hangs up.
 *
 * Post-copy migration stays process-only: its NBD export of the source runs
 * in the local process and reads the chunk state (uffd_migrate.c).
 */
#include "uffd_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

enum { CTL_SYNC = 'S', CTL_COUNTERS = 'C' };

/* The workload's answer to one control command. */
struct ctl_reply {
	int32_t rc;
	uint32_t pad;
	uint64_t faults, pulled, pushed, dirty;
	char msg[448];
};

/* The local process's end of the control socket. */
struct uffd_fwd {
	int sock;
};

/* The control socket's address: <workdir>/uffd-handler.sock. */
static int ctl_addr(const struct scenario *sc, struct sockaddr_un *sa, struct err *e)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof sa->sun_path, "%s/uffd-handler.sock", sc->workdir);
	if (n < 0 || (size_t)n >= sizeof sa->sun_path)
		return err_set(e, "uffd: handler=inprocess: control socket path under %s is too long (max %zu bytes)",
			       sc->workdir, sizeof sa->sun_path - 1);
	return 0;
}

/* ---- workload process ---------------------------------------------------- */

/* Answer one control command: sync (push dirty chunks) or counters only. */
static void ctl_answer(struct uffd *u, char cmd, struct ctl_reply *rep)
{
	struct err e = {0};
	memset(rep, 0, sizeof *rep);
	if (cmd == CTL_SYNC)
		rep->rc = uffd_push(u, &e);
	else if (cmd != CTL_COUNTERS)
		rep->rc = err_set(&e, "uffd: unknown control command '%c'", cmd);
	if (e.set)
		snprintf(rep->msg, sizeof rep->msg, "%s", e.msg);
	struct region *r = u->r;
	rep->faults = __atomic_load_n(&r->faults, __ATOMIC_RELAXED);
	rep->pulled = __atomic_load_n(&r->bytes_pulled, __ATOMIC_RELAXED);
	rep->pushed = __atomic_load_n(&r->bytes_pushed, __ATOMIC_RELAXED);
	rep->dirty = __atomic_load_n(&r->chunks_dirty, __ATOMIC_RELAXED);
}

/* Control thread: accept the local process, answer its commands until stop. */
static void *ctl_main(void *arg)
{
	struct uffd *u = arg;
	int c = -1;
	while (!atomic_load(&u->stopping)) {
		struct pollfd p[2] = {{c >= 0 ? c : u->ctl_fd, POLLIN, 0}, {u->stop_fd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents || atomic_load(&u->stopping))
			break;
		if (c < 0) {
			c = accept4(u->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0 && errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
				break;
			continue;
		}
		char cmd;
		struct ctl_reply rep;
		if (read_all(c, &cmd, 1)) { /* the local process hung up (close) */
			close(c);
			c = -1;
			continue;
		}
		ctl_answer(u, cmd, &rep);
		if (write_all(c, &rep, sizeof rep)) {
			close(c);
			c = -1;
		}
	}
	if (c >= 0)
		close(c);
	return NULL;
}

/* Workload process: build the handler state, connect, start every thread here. */
int uffd_workload_attach(const struct scenario *sc, struct region *r, struct err *e)
{
	struct uffd *u = uffd_new(sc, r, e);
	if (!u)
		return -1;
	struct sockaddr_un sa;
	if (ctl_addr(sc, &sa, e))
		goto fail;
	unlink(sa.sun_path);
	u->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u->ctl_fd < 0 || bind(u->ctl_fd, (struct sockaddr *)&sa, sizeof sa) || listen(u->ctl_fd, 2)) {
		err_errno(e, errno, "uffd: control socket %s", sa.sun_path);
		goto fail;
	}
	snprintf(u->uri, sizeof u->uri, "nbd://%s:%d/", sc->remote_addr, sc->port);
	if (uffd_connect(u, e))
		goto fail;
	u->uffd = r->uffd;
	r->uffd = -1; /* ours now */
	u->base = (uintptr_t)r->addr;
	r->priv = u;
	int rc;
	if (uffd_start(u, e))
		goto fail_started;
	if ((rc = pthread_create(&u->ctl_thread, NULL, ctl_main, u))) {
		err_errno(e, rc, "uffd: control thread");
		goto fail_started;
	}
	u->ctl_started = 1;
	return 0;
fail_started:
	r->priv = NULL;
	uffd_stop(u); /* joins what started, closes the clients, frees */
	return -1;
fail:
	uffd_free(u);
	return -1;
}

/* Workload process: stop the threads (the workload is done with the region). */
void uffd_workload_detach(struct region *r)
{
	struct uffd *u = r->priv;
	if (!u)
		return;
	r->priv = NULL;
	uffd_stop(u);
}

/* ---- local process ---------------------------------------------------------- */

/* Local process: options already checked; say the handler runs in the workload. */
int uffd_inproc_open(const struct scenario *sc, struct region *r, const struct uffd_cfg *cfg, struct err *e)
{
	if (sc->third_addr[0])
		return err_set(e, "uffd: handler=inprocess is not supported with --migrate (post-copy serves the "
			       "destination from the source's local process; use handler=process)");
	if (!sc->size || sc->size % UFFD_PAGE)
		return err_set(e, "region size %" PRIu64 " is not a positive multiple of the page size (%u)", sc->size,
			       UFFD_PAGE);
	struct sockaddr_un sa;
	if (ctl_addr(sc, &sa, e))
		return -1;
	struct uffd_fwd *f = calloc(1, sizeof *f);
	if (!f)
		return err_errno(e, ENOMEM, "uffd");
	f->sock = -1;
	r->kind = REGION_ANON_UFFD;
	r->uffd_register_wp = cfg->wp;
	r->handler_in_workload = 1;
	r->priv = f;
	return 0;
}

/* Local process: connect to the workload's control socket (it listens already). */
int uffd_inproc_attach(struct region *r, struct err *e)
{
	struct uffd_fwd *f = r->priv;
	struct sockaddr_un sa;
	if (ctl_addr(r->sc, &sa, e))
		return -1;
	f->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->sock < 0 || connect(f->sock, (struct sockaddr *)&sa, sizeof sa))
		return err_errno(e, errno, "uffd: cannot reach the handler in the workload (%s)", sa.sun_path);
	return 0;
}

/* Local process: ask the workload's handler to push, take its counters. */
int uffd_inproc_sync(struct region *r, struct err *e)
{
	struct uffd_fwd *f = r->priv;
	char cmd = CTL_SYNC;
	struct ctl_reply rep;
	if (write_all(f->sock, &cmd, 1) || read_all(f->sock, &rep, sizeof rep))
		return err_errno(e, errno, "uffd: the handler in the workload process is gone (during sync)");
	r->faults = rep.faults;
	r->bytes_pulled = rep.pulled;
	r->bytes_pushed = rep.pushed;
	r->chunks_dirty = rep.dirty;
	rep.msg[sizeof rep.msg - 1] = '\0';
	if (rep.rc)
		return err_set(e, "%s", rep.msg[0] ? rep.msg : "uffd: sync in the workload failed");
	return 0;
}

/* Local process: hang up (the workload stops its threads in workload_detach). */
void uffd_inproc_close(struct region *r)
{
	struct uffd_fwd *f = r->priv;
	if (!f)
		return;
	if (f->sock >= 0)
		close(f->sock);
	free(f);
	r->priv = NULL;
}
