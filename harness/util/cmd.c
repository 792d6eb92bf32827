/* cmd.c - fork/exec of helper commands, capturing stdout and stderr (see cmd.h). */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CMD_MAX_ARGS 64

/* Join argv with spaces for messages. */
static void join_argv(char *const argv[], char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; argv[i]; i++) {
		if (i)
			strncat(buf, " ", len - strlen(buf) - 1);
		strncat(buf, argv[i], len - strlen(buf) - 1);
	}
}

/* Read both pipes until EOF; keep what fits. */
static void drain_pipes(int outfd, char *out, size_t outlen, int errfd, char *errbuf, size_t errlen)
{
	size_t on = 0, en = 0;
	struct pollfd pfd[2] = {{.fd = outfd, .events = POLLIN}, {.fd = errfd, .events = POLLIN}};
	int open_fds = 2;
	while (open_fds) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			char tmp[4096];
			ssize_t n = read(pfd[i].fd, tmp, sizeof tmp);
			if (n <= 0) {
				pfd[i].fd = -1;
				open_fds--;
				continue;
			}
			char *dst = i ? errbuf : out;
			size_t cap = i ? errlen : outlen, *used = i ? &en : &on;
			if (dst && cap > 1 && *used < cap - 1) {
				size_t k = (size_t)n < cap - 1 - *used ? (size_t)n : cap - 1 - *used;
				memcpy(dst + *used, tmp, k);
				*used += k;
			}
		}
	}
	if (out && outlen)
		out[on] = '\0';
	if (errbuf && errlen)
		errbuf[en] = '\0';
}

/* Fork, exec, capture; record the command and its stderr on failure. */
int cmd_runv(char *const argv[], char *out, size_t outlen, struct err *e)
{
	char line[512], errbuf[1024];
	int po[2], pe[2];
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
		return err_errno(e, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		join_argv(argv, line, sizeof line);
		close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
		return err_errno(e, errno, "cannot fork for `%s`", line);
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot execute %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	drain_pipes(po[0], out, outlen, pe[0], errbuf, sizeof errbuf);
	close(po[0]);
	close(pe[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return err_errno(e, errno, "waitpid");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	join_argv(argv, line, sizeof line);
	size_t n = strlen(errbuf);
	while (n && (errbuf[n - 1] == '\n' || errbuf[n - 1] == ' '))
		errbuf[--n] = '\0';
	if (WIFEXITED(status))
		return err_set(e, "`%s` failed (exit %d): %s", line, WEXITSTATUS(status), n ? errbuf : "(no message)");
	return err_set(e, "`%s` killed by signal %d", line, WTERMSIG(status));
}

/* Varargs front end of cmd_runv(). */
int cmd_run(struct err *e, char *out, size_t outlen, const char *arg0, ...)
{
	char *argv[CMD_MAX_ARGS];
	int n = 0;
	va_list ap;
	va_start(ap, arg0);
	for (const char *a = arg0; a && n < CMD_MAX_ARGS - 1; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return cmd_runv(argv, out, outlen, e);
}
