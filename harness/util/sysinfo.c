/* sysinfo.c - build and machine facts for result headers. */
#include "sysinfo.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "build_info.h"

/* Collect facts; missing ones stay "unknown". */
void sysinfo_collect(struct sysinfo_facts *si)
{
	memset(si, 0, sizeof *si);
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(si->date, sizeof si->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
	struct utsname u;
	if (uname(&u) == 0) {
		snprintf(si->host, sizeof si->host, "%s", u.nodename);
		snprintf(si->kernel, sizeof si->kernel, "%s %s %s", u.sysname, u.release, u.machine);
	}
	snprintf(si->cpu_model, sizeof si->cpu_model, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(si->cpu_model, sizeof si->cpu_model, "%s", strchr(line, ':') + 2);
			si->cpu_model[strcspn(si->cpu_model, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
	si->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	si->mem_bytes = (unsigned long long)sysconf(_SC_PHYS_PAGES) * (unsigned long long)sysconf(_SC_PAGESIZE);
}

/* Members: tool, build, machine. */
void sysinfo_record(struct record *r, const struct sysinfo_facts *si)
{
	rec_str(r, "memsync_version", MEMSYNC_VERSION);
	rec_str(r, "git_commit", MEMSYNC_GIT_COMMIT);
	rec_str(r, "date", si->date);
	rec_str(r, "host", si->host);
	rec_str(r, "kernel", si->kernel);
	rec_str(r, "cpu_model", si->cpu_model);
	rec_u64(r, "ncpu", (uint64_t)si->ncpu);
	rec_u64(r, "mem_bytes", si->mem_bytes);
	rec_str(r, "compiler", MEMSYNC_COMPILER);
	rec_str(r, "cflags", MEMSYNC_CFLAGS);
	rec_str(r, "build_type", MEMSYNC_BUILD_TYPE);
}
