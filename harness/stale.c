/*
 * stale.c - removal of what runs that died (SIGKILL, a crash, a power cut)
 * left behind, at the start of every run and in `memsync cleanup`:
 *   - what the approaches know of (FUSE mounts, NBD devices, daemons):
 *     each approach's cleanup_stale() hook;
 *   - network namespaces and link-counter shared memory: netem's cleanup;
 *   - scenario work directories <workroot>/memsync-<pid>-<index> (for delta
 *     two region-sized files).
 * A thing is stale when the process named in it no longer exists.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "proc.h"
#include "runner_int.h"

/* Remove a scratch directory and everything below it on the same file system. */
int workdir_remove(const char *dir, struct err *e)
{
	return cmd_run(e, NULL, 0, "rm", "-rf", "--one-file-system", dir, (char *)NULL);
}

/* The run (pid) a work directory name "memsync-<pid>-<index>" belongs to; 0 if not one. */
static pid_t workdir_owner(const char *name)
{
	int pid, index, end = 0;
	if (sscanf(name, "memsync-%d-%d%n", &pid, &index, &end) != 2 || name[end] || pid <= 0 || index < 0)
		return 0;
	return (pid_t)pid;
}

/* Remove the work directories of dead runs under workroot. */
static int workdirs_cleanup_stale(const char *workroot, int *removed, struct err *e)
{
	DIR *d = opendir(workroot);
	if (!d)
		return errno == ENOENT ? 0 : err_errno(e, errno, "cannot list %s", workroot);
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		pid_t pid = workdir_owner(de->d_name);
		if (!pid || proc_alive(pid))
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", workroot, de->d_name);
		if (workdir_remove(path, e)) {
			rc = -1;
			break;
		}
		log_info("removed stale work directory %s (its run, pid %d, is gone)", path, (int)pid);
		(*removed)++;
	}
	closedir(d);
	return rc;
}

/* Approaches' leftovers, then namespaces and shared memory, then work directories. */
int runner_cleanup_stale(const char *workroot, int *removed, struct err *e)
{
	*removed = 0;
	for (int i = 0; approach_registry[i]; i++)
		if (approach_registry[i]->cleanup_stale && !approach_registry[i]->unsupported)
			approach_registry[i]->cleanup_stale();
	int n = 0, rc = topo_cleanup_stale_counted(&n, e);
	*removed += n;
	if (workdirs_cleanup_stale(workroot, removed, e))
		rc = -1;
	return rc;
}
