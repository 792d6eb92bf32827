/*
 * supervise.c - the runner's side of the runner<->child protocol.
 *
 * Each child of a scenario is forked into its host's network namespace, in
 * a process group of its own (so that daemons an approach starts there die
 * with it), with a socketpair to the runner. The runner sends one command
 * byte and waits for one reply byte (CMD_OK or CMD_FAIL, the message in the
 * shared block), with the plan's timeout per phase; a child that dies, an
 * approach thread that reports a fatal error, or Ctrl-C ends the wait.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "runner_int.h"

#define AWAIT_POLL_MS 200               /* how often a wait checks timeout, Ctrl-C, async failures */
#define CHILD_QUIT_GRACE_NS 2000000000ull /* after CMD_QUIT: then SIGTERM */
#define CHILD_TERM_GRACE_NS 3000000000ull /* after SIGTERM: then SIGKILL */
#define CHILD_REAP_POLL_US 2000

const char *const role_names[NROLES] = {"remote", "local", "workload", "dest", "dest-workload"};

volatile sig_atomic_t runner_interrupted;
static struct sigaction old_int, old_term;

/* SIGINT/SIGTERM in the runner: finish the current phase as interrupted. */
static void on_signal(int sig)
{
	(void)sig;
	runner_interrupted = 1;
}

/* Catch SIGINT/SIGTERM for the run. */
void runner_signals_install(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	runner_interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signal(SIGPIPE, SIG_IGN);
}

/* Give SIGINT/SIGTERM back their earlier handlers. */
void runner_signals_restore(void)
{
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
}

/* In the new child: its own process group and namespace, then its body. */
static void child_start(struct scenario_run *s, enum role role, int host, int sock)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setpgid(0, 0);
	signal(SIGINT, SIG_IGN); /* the runner decides; it stops us on Ctrl-C */
	signal(SIGTERM, SIG_DFL);
	s->ch[role].sock = sock;
	struct err ce = {0};
	if (topo_enter(s->topo, host, &ce)) {
		child_reply(s, role, 0, &ce);
		_exit(1);
	}
	int rc;
	if (role == ROLE_REMOTE)
		rc = child_remote_main(s, role);
	else if (role == ROLE_LOCAL || role == ROLE_DEST)
		rc = child_local_main(s, role);
	else
		rc = child_workload_main(s, role);
	_exit(rc);
}

/* Fork a child for a role in its host's namespace. */
int child_spawn(struct scenario_run *s, enum role role, int host, struct err *e)
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
		close(sv[0]);
		child_start(s, role, host, sv[1]);
	}
	setpgid(pid, pid); /* also here: no race with the first kill of the group */
	close(sv[1]);
	s->ch[role].pid = pid;
	s->ch[role].sock = sv[0];
	s->ch[role].role = role;
	return 0;
}

/* A child's command socket said end of file: why did it go? (The child is
 * not reaped here: children_stop() reaps it and kills its process group.) */
static int child_gone(struct scenario_run *s, enum role role, const char *what, struct err *e)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	if (!waitid(P_PID, (id_t)s->ch[role].pid, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid &&
	    (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED))
		return err_set(e, "%s process died from signal %d (%s) while %s", role_names[role], si.si_status,
			       strsignal(si.si_status), what);
	return err_set(e, "%s process exited while %s%s%s", role_names[role], what, s->sh->err[role][0] ? ": " : "",
		       s->sh->err[role]);
}

/* Runner side: wait for a child's reply to the last command (or its start). */
int child_await(struct scenario_run *s, enum role role, const char *what, struct err *e)
{
	struct child *c = &s->ch[role];
	uint64_t deadline = now_ns() + s->plan->timeout_ns;
	for (;;) {
		if (runner_interrupted)
			return err_set(e, "interrupted while %s", what);
		int af = __atomic_load_n(&s->sh->async_fail, __ATOMIC_ACQUIRE);
		/* A role's own report fails the phase too when it is a workload: it
		 * may be stuck in a fault its own (in-process) handler gave up on. */
		if (af && (af - 1 != (int)role || role == ROLE_WORKLOAD || role == ROLE_DEST_WORKLOAD))
			return err_set(e, "%s: %s (while %s)", role_names[af - 1], s->sh->err[af - 1], what);
		if (now_ns() >= deadline)
			return err_set(e, "%s process timed out while %s (%.0f s)", role_names[role], what,
				       (double)s->plan->timeout_ns / 1e9);
		struct pollfd p = {c->sock, POLLIN, 0};
		int n = poll(&p, 1, AWAIT_POLL_MS);
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
		return child_gone(s, role, what, e);
	}
}

/* Send a command byte. */
int child_send(struct scenario_run *s, enum role role, char cmd, const char *what, struct err *e)
{
	if (!s->ch[role].pid)
		return err_set(e, "%s process is not running", role_names[role]);
	if (write(s->ch[role].sock, &cmd, 1) != 1)
		return err_errno(e, errno, "%s process is gone (while %s)", role_names[role], what);
	return 0;
}

/* Send a command and wait for its reply. */
int child_command(struct scenario_run *s, enum role role, char cmd, const char *what, struct err *e)
{
	if (child_send(s, role, cmd, what, e))
		return -1;
	return child_await(s, role, what, e);
}

/* Wait for one child to exit after CMD_QUIT, signalling its group when it
 * lingers; then kill what is left of the group and reap it. Returns 1 when
 * the child did not exit by itself (it was signalled, or died from a signal). */
static int child_stop(struct child *c)
{
	char q = CMD_QUIT;
	if (write(c->sock, &q, 1) != 1) {
		/* already gone */
	}
	uint64_t t0 = now_ns();
	int sent_term = 0, killed = 0;
	siginfo_t si;
	for (;;) {
		memset(&si, 0, sizeof si);
		/* WNOWAIT: the exited leader stays a zombie, so its process group
		 * cannot be reused before the kill below. */
		if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) || si.si_pid == c->pid)
			break;
		uint64_t waited = now_ns() - t0;
		if (waited > CHILD_QUIT_GRACE_NS + CHILD_TERM_GRACE_NS) {
			kill(-c->pid, SIGKILL);
			killed = 1;
		} else if (!sent_term && waited > CHILD_QUIT_GRACE_NS) {
			kill(-c->pid, SIGTERM);
			sent_term = killed = 1;
		}
		usleep(CHILD_REAP_POLL_US);
	}
	kill(-c->pid, SIGKILL); /* daemons an approach left in the group */
	int status = 0;
	waitpid(c->pid, &status, 0);
	c->pid = 0;
	return killed || WIFSIGNALED(status);
}

/* Stop every child: QUIT, then SIGTERM, then SIGKILL; reap all. */
int children_stop(struct scenario_run *s)
{
	int killed = 0;
	for (int r = NROLES - 1; r >= 0; r--)
		if (s->ch[r].pid)
			killed += child_stop(&s->ch[r]);
	for (int r = 0; r < NROLES; r++)
		if (s->ch[r].sock >= 0) {
			close(s->ch[r].sock);
			s->ch[r].sock = -1;
		}
	return killed;
}
