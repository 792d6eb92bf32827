/*
 * sysinfo.h - facts about this build and machine for the run header:
 * memsync version and git commit, date, host, kernel, CPU model and count,
 * memory, compiler and flags.
 */
#ifndef MEMSYNC_SYSINFO_H
#define MEMSYNC_SYSINFO_H

#include "record.h"

struct sysinfo_facts {
	char date[32], host[64], kernel[128], cpu_model[128];
	int ncpu;
	unsigned long long mem_bytes;
};

/* Read the facts from uname, /proc/cpuinfo and sysconf. */
void sysinfo_collect(struct sysinfo_facts *si);
/* Add the facts (and the build's) as members of record r. */
void sysinfo_record(struct record *r, const struct sysinfo_facts *si);

#endif
