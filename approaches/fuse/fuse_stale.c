/*
 * fuse_stale.c - removing the FUSE mounts of dead processes (fuse_fs.h):
 * every mount is named "memsync-ms<pid>" (type fuse.memsync) after the
 * process that serves it; one whose process is gone is unmounted lazily.
 */
#include "fuse_fs.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#include "log.h"

/* Undo /proc/mounts' octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Is pid gone (or a zombie, whose descriptors are closed)? */
static int pid_dead(int pid)
{
	if (kill(pid, 0) && errno == ESRCH)
		return 1;
	char p[64], line[128];
	snprintf(p, sizeof p, "/proc/%d/stat", pid);
	FILE *f = fopen(p, "re");
	if (!f)
		return 0;
	int dead = 0;
	if (fgets(line, sizeof line, f)) {
		const char *s = strrchr(line, ')'); /* "pid (comm) S ..." */
		dead = s && (s[2] == 'Z' || s[2] == 'X');
	}
	fclose(f);
	return dead;
}

/* Lazily unmount memsync FUSE mounts of dead processes. */
int fusefs_cleanup_stale(void)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	if (!f)
		return 0;
	char line[PATH_MAX + 256], src[128], mnt[PATH_MAX], type[64];
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		int pid;
		if (sscanf(line, "%127s %4095s %63s", src, mnt, type) != 3 || strcmp(type, "fuse.memsync") ||
		    sscanf(src, "memsync-ms%d", &pid) != 1 || pid <= 0)
			continue;
		if (!pid_dead(pid))
			continue;
		unescape(mnt);
		if (umount2(mnt, MNT_DETACH) == 0) {
			log_info("fuse: unmounted %s of dead process %d (%s)", mnt, pid, src);
			n++;
		} else {
			log_warn("fuse: cannot unmount %s of dead process %d: %s", mnt, pid, strerror(errno));
		}
	}
	fclose(f);
	return n;
}
