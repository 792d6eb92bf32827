/*
 * proc.h - facts about processes and the machine's load that the harness
 * and the link layer need to decide what is stale or busy: is a process
 * still alive, and the 1-minute load average.
 */
#ifndef MEMSYNC_PROC_H
#define MEMSYNC_PROC_H

#include <sys/types.h>

/* 1 when pid names a live (non-zombie) process, else 0. */
int proc_alive(pid_t pid);

/* The 1-minute load average from /proc/loadavg ($MEMSYNC_PROC_LOADAVG names
 * another file with the same format, for tests); -1 when unreadable. */
double proc_loadavg1(void);

/* Online CPUs (at least 1). */
int proc_ncpu(void);

#endif
