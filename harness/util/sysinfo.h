/*
 * sysinfo.h - the run header: facts about this build and machine (memsync
 * version and git commit, date, host, kernel, CPU model and count, memory,
 * compiler and flags, load average) that start every results file.
 *
 * One header shape for every producer: `memsync run` writes it before its
 * scenario records, and every bench script writes it through
 * `memsync header --bench NAME` before its rows.
 */
#ifndef MEMSYNC_SYSINFO_H
#define MEMSYNC_SYSINFO_H

#include "record.h"

struct sysinfo_facts {
	char date[32], host[64], kernel[128], cpu_model[128];
	int ncpu;
	unsigned long long mem_bytes;
	double loadavg[3]; /* 1, 5, 15 minutes; negative when unknown */
};

/* Read the facts from uname, /proc/cpuinfo, sysconf and getloadavg. */
void sysinfo_collect(struct sysinfo_facts *si);
/* Add the facts (and the build's) as members of record r. */
void sysinfo_record(struct record *r, const struct sysinfo_facts *si);
/* Begin a header record: "type":"header", "bench" (when bench is not NULL),
 * the facts, "vm" (none, or tcg/kvm inside the VM lab), "netem_driver" and
 * "command". The caller adds "params" (an
 * object) and writes the record with rec_write(). */
void sysinfo_header(struct record *r, const char *bench, const char *netem_driver, const char *command);

#endif
