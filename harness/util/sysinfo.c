/* sysinfo.c - build and machine facts, and the header record built from them. */
#include "sysinfo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
	if (getloadavg(si->loadavg, 3) != 3)
		si->loadavg[0] = si->loadavg[1] = si->loadavg[2] = -1;
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
	rec_obj(r, "loadavg"); /* other load on the machine when the run started */
	static const char *const span[3] = {"1min", "5min", "15min"};
	for (int i = 0; i < 3; i++)
		rec_f64(r, span[i], si->loadavg[i] < 0 ? NAN : si->loadavg[i]);
	rec_end_obj(r);
	rec_str(r, "compiler", MEMSYNC_COMPILER);
	rec_str(r, "cflags", MEMSYNC_CFLAGS);
	rec_str(r, "build_type", MEMSYNC_BUILD_TYPE);
}

/* Where this runs: "none" natively; inside the VM lab (MEMSYNC_IN_VM=1,
 * harness/vm/vm-run.sh) "tcg" or "kvm", as QEMU names its CPU model. */
static const char *sysinfo_vm(const struct sysinfo_facts *si)
{
	const char *in_vm = getenv("MEMSYNC_IN_VM");
	if (!in_vm || strcmp(in_vm, "1") != 0)
		return "none";
	return strstr(si->cpu_model, "TCG") ? "tcg" : "kvm";
}

/* The common start of every header record. */
void sysinfo_header(struct record *r, const char *bench, const char *netem_driver, const char *command)
{
	struct sysinfo_facts si;
	sysinfo_collect(&si);
	rec_begin(r);
	rec_str(r, "type", "header");
	if (bench)
		rec_str(r, "bench", bench);
	sysinfo_record(r, &si);
	rec_str(r, "vm", sysinfo_vm(&si));
	rec_str(r, "netem_driver", netem_driver);
	rec_str(r, "command", command);
}
