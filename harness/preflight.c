/*
 * preflight.c - what the runner checks before the first scenario, so that
 * a run that cannot succeed is refused (exit 2) before any namespace is
 * built: every -o option (known to a selected approach, accepted by the
 * approaches' check_options hooks), the scratch directory, the results file;
 * and, with --require-idle, a machine that is idle (load average).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proc.h"
#include "preflight.h"
#include "runner_int.h"

#define IDLE_POLL_NS 1000000000ull /* how often --require-idle looks at the load again */

/* Does the approach list this option key? */
static int approach_knows(const struct approach_ops *ops, const char *key)
{
	for (const struct approach_opt *o = ops->options; o && o->name; o++)
		if (!strcmp(o->name, key))
			return 1;
	return 0;
}

/* Every -o key must be an option of a selected approach (an approach
 * ignores the keys it does not list: one -o serves a run of several). */
static int check_option_keys(const struct run_plan *p, struct err *e)
{
	for (int i = 0; i < p->nopts; i++) {
		int known = 0;
		char names[256] = "";
		for (int a = 0; a < p->napproaches; a++) {
			known |= approach_knows(p->approaches[a], p->opts[i][0]);
			size_t l = strlen(names);
			snprintf(names + l, sizeof names - l, "%s%s", a ? ", " : "", p->approaches[a]->name);
		}
		if (!known)
			return err_set(e,
				       "option '%s' is not known to any selected approach (%s; see `memsync help %s`)",
				       p->opts[i][0], names, p->approaches[0]->name);
	}
	return 0;
}

/* Every approach's check_options hook, with the run's options. */
static int check_option_values(const struct run_plan *p, struct err *e)
{
	struct scenario sc;
	for (int a = 0; a < p->napproaches; a++) {
		const struct approach_ops *ops = p->approaches[a];
		if (!ops->check_options || ops->unsupported)
			continue;
		scenario_fill(&sc, p, ops, &p->workloads[0], p->profiles[0], 0);
		struct err sub = {0};
		if (ops->check_options(&sc, &sub))
			return err_set(e, "approach %s: %s", ops->name, sub.set ? sub.msg : "options refused");
	}
	return 0;
}

/* The scratch directory must exist and be writable. */
static int check_workroot(const char *dir, struct err *e)
{
	struct stat st;
	if (stat(dir, &st))
		return err_errno(e, errno, "--workdir %s", dir);
	if (!S_ISDIR(st.st_mode))
		return err_set(e, "--workdir %s is not a directory", dir);
	if (access(dir, W_OK | X_OK))
		return err_errno(e, errno, "--workdir %s is not writable", dir);
	return 0;
}

/* Open (create) the results file for appending. */
static FILE *open_out(const char *path, int *created, struct err *e)
{
	struct stat st;
	int existed = stat(path, &st) == 0;
	if (existed && S_ISDIR(st.st_mode))
		return err_set(e, "--out %s is a directory (a file is expected)", path), NULL;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_errno(e, errno, "cannot write the results to %s", path), NULL;
	FILE *f = fdopen(fd, "a");
	if (!f) {
		err_errno(e, errno, "cannot write the results to %s", path);
		close(fd);
		return NULL;
	}
	*created = !existed;
	return f;
}

/* Options, --workdir and --out. */
int preflight_check(const struct run_plan *p, FILE **out, int *created, struct err *e)
{
	*out = NULL;
	*created = 0;
	if (check_option_keys(p, e) || check_option_values(p, e) || check_workroot(p->workroot, e))
		return -1;
	*out = open_out(p->out_path, created, e);
	return *out ? 0 : -1;
}

/* The load above which a machine is busy. */
static double busy_load(void)
{
	return RUNNER_IDLE_LOAD_PER_CORE * proc_ncpu();
}

/* The load now, with a warning when it is above idle: once each time the
 * machine turns busy (the next ones with -v; every record has the load). */
double preflight_load_warn(void)
{
	static int was_busy;
	double load = proc_loadavg1();
	int busy = load > busy_load();
	if (busy)
		(was_busy ? log_debug : log_warn)("load average %.2f is above %.2f (%.1f per core x %d cores): other work "
						  "may disturb the measurement",
						  load, busy_load(), RUNNER_IDLE_LOAD_PER_CORE, proc_ncpu());
	was_busy = busy;
	return load;
}

/* --require-idle: poll the load until it is idle, the time is up, or Ctrl-C. */
int preflight_wait_idle(const struct run_plan *p, struct err *e)
{
	if (p->require_idle_s <= 0)
		return 0;
	uint64_t deadline = now_ns() + (uint64_t)p->require_idle_s * 1000000000ull;
	double load = proc_loadavg1();
	if (load < 0)
		return err_set(e, "--require-idle: cannot read the load average");
	if (load > busy_load())
		log_info("waiting up to %d s for an idle machine: load average %.2f, idle is at most %.2f", p->require_idle_s,
			 load, busy_load());
	while (load > busy_load()) {
		if (runner_interrupted)
			return err_set(e, "interrupted while waiting for an idle machine");
		if (now_ns() >= deadline)
			return err_set(e, "the machine is not idle: load average %.2f after waiting %d s (idle is at most "
					  "%.2f, %.1f per core); refusing to measure",
				       load, p->require_idle_s, busy_load(), RUNNER_IDLE_LOAD_PER_CORE);
		struct timespec ts = {0, (long)(IDLE_POLL_NS % 1000000000ull)};
		ts.tv_sec = (time_t)(IDLE_POLL_NS / 1000000000ull);
		nanosleep(&ts, NULL);
		load = proc_loadavg1();
	}
	return 0;
}
