/*
 * uffd_inproc.c - handler=inprocess: the uffd approach's threads run inside
 * the workload process instead of the local process.
 *
 * open() in the local process only checks the options and sets
 * region->handler_in_workload. The workload maps and registers the region,
 * keeps its userfaultfd and calls workload_attach() (harness hook), which
 * builds the same core the local process would and starts the same threads
 * (uffd_int.h: connections, fault handlers, puller, pusher, watchdog); the
 * region is mapped here (u->same_mm), so dirty chunks are read with memcpy
 * instead of process_vm_readv. A control thread listens on a UNIX socket in
 * the scenario's workdir; the local process's sync() forwards to it (one
 * command byte; one reply with the result, the error text and the
 * counters). close() hangs up. The control thread is this mode's part of
 * the core's teardown (hooks.stopped).
 *
 * Post-copy migration stays process-only: its NBD export of the source runs
 * in the local process and reads the chunk state (uffd_migrate.c); uffd.c
 * refuses handler=inprocess with --migrate.
 */
#include "uffd.h"

#include <errno.h>
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

/* The workload process's control listener (the mode's state, hooks.arg). */
struct uffd_ctl {
	struct uffd *u;
	int fd; /* listening socket */
	pthread_t thread;
	int started;
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
	struct uffd_ctl *ctl = arg;
	struct uffd *u = ctl->u;
	int c = -1;
	while (!atomic_load(&u->stopping)) {
		struct pollfd p[2] = {{c >= 0 ? c : ctl->fd, POLLIN, 0}, {u->stop_fd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents || atomic_load(&u->stopping))
			break;
		if (c < 0) {
			c = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC);
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

/* Close the listener and free it (its thread joined or never started). */
static void ctl_free(struct uffd_ctl *ctl)
{
	if (ctl->fd >= 0)
		close(ctl->fd);
	free(ctl);
}

/* hooks.stopped: the core's threads are joined; join the control thread. */
static void ctl_stopped(struct uffd *u)
{
	struct uffd_ctl *ctl = u->hooks.arg;
	if (ctl->started)
		pthread_join(ctl->thread, NULL); /* it polls the core's stop_fd */
	ctl_free(ctl);
	u->hooks.arg = NULL;
}

/* Listen on the control socket. */
static struct uffd_ctl *ctl_listen(struct uffd *u, struct err *e)
{
	struct sockaddr_un sa;
	if (ctl_addr(u->sc, &sa, e))
		return NULL;
	struct uffd_ctl *ctl = calloc(1, sizeof *ctl);
	if (!ctl)
		return err_errno(e, ENOMEM, "uffd: control socket"), NULL;
	ctl->u = u;
	unlink(sa.sun_path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0 || bind(ctl->fd, (struct sockaddr *)&sa, sizeof sa) || listen(ctl->fd, 2)) {
		err_errno(e, errno, "uffd: control socket %s", sa.sun_path);
		ctl_free(ctl);
		return NULL;
	}
	return ctl;
}

/* Workload process: build the core, connect and start its threads here. */
int uffd_workload_attach(const struct scenario *sc, struct region *r, struct err *e)
{
	struct uffd_cfg cfg;
	enum uffd_handler handler;
	if (uffd_parse_opts(sc, &cfg, &handler, e))
		return -1;
	struct uffd *u = uffd_new(sc, r, &cfg, e);
	if (!u)
		return -1;
	u->same_mm = 1;
	uffd_set_uri(u, sc->remote_addr, sc->port);
	struct uffd_ctl *ctl = ctl_listen(u, e);
	if (!ctl || uffd_connect(u, e) || uffd_take_region(u, r, e)) {
		if (ctl)
			ctl_free(ctl);
		uffd_free(u);
		return -1;
	}
	u->hooks.stopped = ctl_stopped;
	u->hooks.arg = ctl;
	r->priv = u;
	int rc;
	if (uffd_start(u, e))
		goto fail_started;
	if ((rc = pthread_create(&ctl->thread, NULL, ctl_main, ctl))) {
		err_errno(e, rc, "uffd: control thread");
		goto fail_started;
	}
	ctl->started = 1;
	return 0;
fail_started:
	r->priv = NULL;
	uffd_stop(u); /* joins what started, closes the clients, frees (hooks.stopped: the listener) */
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
	struct sockaddr_un sa;
	if (uffd_check_region(sc, e) || ctl_addr(sc, &sa, e))
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
