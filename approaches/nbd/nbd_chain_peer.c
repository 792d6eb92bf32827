/*
 * nbd_chain_peer.c - the sides of `memsync-nbd chain` as child processes
 * (origin, A, B, C: the approach's own hooks, one per process) and the
 * line channel between them and the orchestrator (see nbd_chain.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "nbd_chain.h"
#include "nbd_int.h"

extern const struct approach_ops nbd_ops;

/* Forget the mapping without syncing. */
void chain_writer_drop(struct writer *w)
{
	if (w->map)
		munmap(w->map, w->size);
	w->map = NULL;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

/* ---- channel ------------------------------------------------------------- */

/* Send one line. */
int chain_say(int fd, const char *fmt, ...)
{
	char buf[640];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	return write_all(fd, buf, (size_t)n);
}

/* Read one line without its newline; -1 at end of file or on error. */
int chain_hear(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t k = read(fd, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}

/* ---- children ------------------------------------------------------------ */

/* region->report_fatal in a child: say it. */
static void child_fatal(struct region *r, const char *msg)
{
	(void)r;
	log_warn("nbd chain: %s", msg);
}

/* migrate_source()'s suspend callback: the writer (the orchestrator) stops. */
static int child_suspend(struct migration *m, struct err *e)
{
	struct peer *p = m->harness;
	char line[16];
	if (chain_say(p->fd, "suspend") || chain_hear(p->fd, line, sizeof line) || strcmp(line, "ok"))
		return err_set(e, "the writer did not confirm its suspension");
	return 0;
}

/* One command in a child; info gets what "ok" carries. */
static void child_command(struct peer *p, const char *cmd, char *info, size_t cap, struct err *e)
{
	struct nbd_local *l = p->r.priv;
	if (!strcmp(cmd, "finalize")) {
		struct migration m = {.suspend_source = child_suspend, .harness = p};
		if (nbd_ops.migrate_source(&p->r, &m, e) == 0)
			snprintf(info, cap, "%" PRIu64 " %" PRIu64, m.bytes_moved, m.bytes_resent);
	} else if (!strcmp(cmd, "seed") && p->next) {
		nbd_seed_next(&p->r, p->next, e);
	} else if (!strncmp(cmd, "pulled ", 7) && l && l->mg) {
		managed_wait_pulled(l->mg, atoi(cmd + 7), e);
	} else {
		err_set(e, "unknown command '%s'", cmd);
	}
}

/* Answer "ok INFO" or "fail MESSAGE". */
static int child_reply(int fd, const struct err *e, const char *info)
{
	return e->set ? chain_say(fd, "fail %s", e->msg) : chain_say(fd, "ok %s", info);
}

/* A child: start the role, then serve commands until the channel closes. */
static int child_main(struct peer *p)
{
	struct err e = {0};
	struct host h = {.sc = p->sc, .name = "remote", .addr = CHAIN_ADDR};
	p->r = (struct region){.sc = p->sc, .uffd = -1, .size = p->sc->size, .report_fatal = child_fatal};
	int rc;
	char info[256];
	if (p->role == ROLE_ORIGIN)
		rc = nbd_ops.serve(&h, &e);
	else if (p->role == ROLE_SOURCE)
		rc = nbd_ops.open(p->sc, &p->r, &e);
	else
		rc = nbd_ops.migrate_dest(p->sc, &p->r, &e);
	if (p->role == ROLE_ORIGIN)
		snprintf(info, sizeof info, "%d", h.port);
	else
		snprintf(info, sizeof info, "%s", p->r.path);
	int gone = child_reply(p->fd, &e, info);
	for (char cmd[64]; !rc && !gone && chain_hear(p->fd, cmd, sizeof cmd) == 0;) {
		struct err ce = {0};
		info[0] = 0;
		child_command(p, cmd, info, sizeof info, &ce);
		gone = child_reply(p->fd, &ce, info);
	}
	if (p->role == ROLE_ORIGIN)
		nbd_ops.serve_stop(&h);
	else
		nbd_ops.close(&p->r);
	return rc ? 1 : 0;
}

/* The forked child: its end of the channel only, then its role; never returns. */
static void child_enter(struct chain *ch, struct peer *p, pid_t parent, int fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	for (int i = 0; i < NPEERS; i++)
		if (ch->peer[i].fd >= 0)
			close(ch->peer[i].fd);
	chain_writer_drop(&ch->w); /* the writer's mapping stays the orchestrator's */
	p->fd = fd;
	exit(child_main(p));
}

/* Fork p's process over a fresh channel. */
int chain_spawn(struct chain *ch, struct peer *p, struct err *e)
{
	int sv[2];
	pid_t parent = getpid();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return err_errno(e, errno, "nbd chain: channel to %s", p->name);
	fflush(NULL);
	pid_t pid = fork();
	int saved = errno;
	if (pid == 0) {
		close(sv[0]);
		child_enter(ch, p, parent, sv[1]);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return err_errno(e, saved, "nbd chain: starting %s", p->name);
	}
	p->pid = pid;
	p->fd = sv[0];
	return 0;
}

/* Close p's channel and wait for it to exit (SIGKILL after EXIT_MS). */
void chain_reap(struct peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	for (int t = 0; p->pid > 0; t += 10) {
		pid_t r = waitpid(p->pid, &p->status, WNOHANG);
		if (r == p->pid || (r < 0 && errno != EINTR)) {
			p->pid = 0;
			break;
		}
		if (t >= EXIT_MS) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &p->status, 0);
			p->hung = 1;
			p->pid = 0;
		}
		usleep(10000);
	}
}

/* How a reaped child ended, in words. */
const char *chain_ended(const struct peer *p, char *buf, size_t cap)
{
	if (p->hung)
		snprintf(buf, cap, "did not exit within %d ms", EXIT_MS);
	else if (WIFSIGNALED(p->status))
		snprintf(buf, cap, "killed by signal %d", WTERMSIG(p->status));
	else
		snprintf(buf, cap, "exited with %d", WEXITSTATUS(p->status));
	return buf;
}
