/* proc.c - process liveness and the load average, from /proc. */
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Alive unless kill(pid, 0) says no such process or /proc says zombie/dead. */
int proc_alive(pid_t pid)
{
	if (pid <= 0 || (kill(pid, 0) && errno != EPERM))
		return 0;
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')');
	return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}

/* First field of /proc/loadavg (or of $MEMSYNC_PROC_LOADAVG). */
double proc_loadavg1(void)
{
	const char *path = getenv("MEMSYNC_PROC_LOADAVG");
	FILE *f = fopen(path && *path ? path : "/proc/loadavg", "r");
	if (!f)
		return -1;
	double l;
	int n = fscanf(f, "%lf", &l);
	fclose(f);
	return n == 1 && l >= 0 ? l : -1;
}

/* sysconf(_SC_NPROCESSORS_ONLN), never below 1. */
int proc_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}
