/* topology.c - host namespaces, addresses, lifetime and stale cleanup (see topology.h). */
#include "netem/topology_impl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "cmd.h"
#include "proc.h"

#define NETNS_DIR "/run/netns"

/* Parse a driver name. */
int netem_driver_parse(const char *s, enum netem_driver *d, struct err *e)
{
	static const struct { const char *name; enum netem_driver drv; } names[] = {
		{"auto", NETEM_AUTO}, {"tc", NETEM_TC}, {"user", NETEM_USER}, {"none", NETEM_NONE},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (s && !strcmp(s, names[i].name)) {
			*d = names[i].drv;
			return 0;
		}
	return err_set(e, "unknown netem driver '%s' (use auto, tc, user or none)", s ? s : "");
}

/* Name of a concrete driver. */
static const char *driver_name(enum netem_driver d)
{
	return d == NETEM_TC ? "tc" : d == NETEM_USER ? "user" : d == NETEM_NONE ? "none" : "auto";
}

/* Try to add a netem qdisc on lo in a throwaway namespace. */
static int netem_probe_qdisc(void)
{
	char ns[64];
	struct err e = {0};
	snprintf(ns, sizeof ns, "ms%d-probe", (int)getpid());
	if (cmd_run(&e, NULL, 0, "ip", "netns", "add", ns, NULL))
		return 0;
	int ok = !cmd_run(&e, NULL, 0, "tc", "-n", ns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
			  NULL);
	cmd_run(&e, NULL, 0, "ip", "netns", "del", ns, NULL);
	return ok;
}

/* Does the kernel have sch_netem? Cached after the first call. */
int netem_tc_available(void)
{
	static int cached = -1;
	if (cached >= 0)
		return cached;
	struct stat st;
	if (stat("/sys/module/sch_netem", &st)) {
		struct err e = {0};
		cmd_run(&e, NULL, 0, "modprobe", "-q", "sch_netem", NULL);
	}
	cached = netem_probe_qdisc();
	return cached;
}

/* Parse "ms<pid>-<rest>" into pid; 0 when the name is not ours. */
static pid_t owner_of(const char *name)
{
	if (strncmp(name, "ms", 2) || !isdigit((unsigned char)name[2]))
		return 0;
	char *end;
	long pid = strtol(name + 2, &end, 10);
	return *end == '-' && pid > 0 ? (pid_t)pid : 0;
}

/* Remove leftovers of dead runs (0 or -1, the error convention). */
int topo_cleanup_stale(struct err *e)
{
	int removed;
	return topo_cleanup_stale_counted(&removed, e);
}

/* Remove namespaces and shared pages of dead runs; count them in *removed. */
int topo_cleanup_stale_counted(int *count, struct err *e)
{
	int removed = 0;
	*count = 0;
	DIR *d = opendir(NETNS_DIR);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			pid_t pid = owner_of(de->d_name);
			if (!pid || proc_alive(pid))
				continue;
			struct err ce = {0};
			if (cmd_run(&ce, NULL, 0, "ip", "netns", "del", de->d_name, NULL)) {
				closedir(d);
				*count = removed;
				return err_set(e, "cannot remove stale namespace %s: %s", de->d_name, ce.msg);
			}
			log_info("removed stale namespace %s (its creator, pid %d, is gone)", de->d_name, (int)pid);
			removed++;
		}
		closedir(d);
	}
	d = opendir("/dev/shm");
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			pid_t pid = owner_of(de->d_name);
			size_t n = strlen(de->d_name);
			if (!pid || n < 5 || strcmp(de->d_name + n - 5, "-link") || proc_alive(pid))
				continue;
			char path[300];
			snprintf(path, sizeof path, "/dev/shm/%s", de->d_name);
			if (!unlink(path)) {
				log_info("removed stale link counters %s (its creator, pid %d, is gone)", path, (int)pid);
				removed++;
			}
		}
		closedir(d);
	}
	*count = removed;
	return 0;
}

/* Enter netns, run fn, come back. */
int topo_in_netns(const char *netns, int (*fn)(void *arg), void *arg, struct err *e)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return err_errno(e, errno, "open /proc/thread-self/ns/net");
	char path[128];
	snprintf(path, sizeof path, NETNS_DIR "/%s", netns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		close(self);
		return err_errno(e, errno, "open %s", path);
	}
	if (setns(fd, CLONE_NEWNET)) {
		int er = errno;
		close(fd), close(self);
		return err_errno(e, er, "setns into %s", netns);
	}
	close(fd);
	int rc = fn(arg);
	if (setns(self, CLONE_NEWNET)) {
		close(self);
		return err_errno(e, errno, "setns back to the original namespace");
	}
	close(self);
	return rc;
}

/* TCP buffer limits in every host: autotuning may grow to 64 MiB, enough
 * for the bandwidth-delay product of every shipped profile. */
static const char *const tcp_buffer_sysctls[][2] = {
	{"/proc/sys/net/ipv4/tcp_rmem", "4096 131072 67108864"},
	{"/proc/sys/net/ipv4/tcp_wmem", "4096 16384 67108864"},
};

/* Write the TCP buffer sysctls (called inside a host's namespace). */
static int set_tcp_buffers(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < sizeof tcp_buffer_sysctls / sizeof tcp_buffer_sysctls[0]; i++) {
		FILE *f = fopen(tcp_buffer_sysctls[i][0], "w");
		if (!f)
			return -1;
		fputs(tcp_buffer_sysctls[i][1], f);
		if (fclose(f))
			return -1;
	}
	return 0;
}

/* Create the namespaces with loopback up and large TCP buffers. */
static int create_namespaces(struct topology *t, struct err *e)
{
	for (int i = 0; i < t->nhosts; i++) {
		struct topo_host *h = &t->hosts[i];
		if (cmd_run(e, NULL, 0, "ip", "netns", "add", h->netns, NULL) ||
		    cmd_run(e, NULL, 0, "ip", "-n", h->netns, "link", "set", "lo", "up", NULL))
			return -1;
		struct err se = {0};
		if (topo_in_netns(h->netns, set_tcp_buffers, NULL, &se))
			log_warn("cannot raise the TCP buffer limits in %s: %s", h->netns,
				 se.set ? se.msg : strerror(errno));
	}
	return 0;
}

/* Build a topology. */
int topo_create(struct topology **out, const struct netem_profile *p, int nhosts, enum netem_driver drv,
		struct err *e)
{
	*out = NULL;
	if (nhosts < 2 || nhosts > TOPO_MAX_HOSTS)
		return err_set(e, "a topology has 2 to %d hosts, not %d", TOPO_MAX_HOSTS, nhosts);
	if (drv == NETEM_AUTO)
		drv = netem_tc_available() ? NETEM_TC : NETEM_USER;
	else if (drv == NETEM_TC && !netem_tc_available())
		return err_set(e, "driver tc: this kernel has no netem qdisc (modprobe sch_netem failed); "
				  "use --driver user or the VM lab (harness/vm/vm-run.sh)");
	struct topology *t = calloc(1, sizeof *t);
	if (!t)
		return err_errno(e, errno, "calloc");
	t->prof = *p;
	t->drv = drv;
	t->nhosts = nhosts;
	t->owner = getpid();
	t->link_pid = -1;
	for (int i = 0; i < nhosts; i++) {
		struct topo_host *h = &t->hosts[i];
		snprintf(h->name, sizeof h->name, "h%d", i);
		if (drv == NETEM_NONE) {
			snprintf(h->addr, sizeof h->addr, "127.0.0.1");
		} else {
			snprintf(h->netns, sizeof h->netns, "ms%d-h%d", (int)t->owner, i);
			snprintf(h->addr, sizeof h->addr, "198.18.0.%d", i + 1);
		}
	}
	if (drv == NETEM_NONE) {
		*out = t;
		return 0;
	}
	struct err ce = {0};
	if (topo_cleanup_stale(&ce))
		log_warn("%s", ce.msg);
	if (create_namespaces(t, e) || (drv == NETEM_TC ? tc_setup(t, e) : user_setup(t, e))) {
		topo_destroy(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* Host accessor. */
const struct topo_host *topo_host(const struct topology *t, int i)
{
	return t && i >= 0 && i < t->nhosts ? &t->hosts[i] : NULL;
}

/* Host count. */
int topo_nhosts(const struct topology *t)
{
	return t->nhosts;
}

/* Profile accessor. */
const struct netem_profile *topo_profile(const struct topology *t)
{
	return &t->prof;
}

/* Owner accessor. */
int topo_owner_pid(const struct topology *t)
{
	return (int)t->owner;
}

/* Is the creating process still running? */
int topo_owner_alive(const struct topology *t)
{
	return proc_alive(t->owner);
}

/* Driver in use. */
const char *topo_driver_name(const struct topology *t)
{
	return driver_name(t->drv);
}

/* setns the calling thread into host i (no-op for the none driver). */
int topo_enter(const struct topology *t, int i, struct err *e)
{
	const struct topo_host *h = topo_host(t, i);
	if (!h)
		return err_set(e, "no host %d in this topology", i);
	if (t->drv == NETEM_NONE)
		return 0;
	char path[128];
	snprintf(path, sizeof path, NETNS_DIR "/%s", h->netns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno, "open %s", path);
	int rc = setns(fd, CLONE_NEWNET);
	int er = errno;
	close(fd);
	return rc ? err_errno(e, er, "setns into %s", h->netns) : 0;
}

/* Link counters of host 0, by driver. */
int topo_counters(const struct topology *t, struct link_counters *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	switch (t->drv) {
	case NETEM_TC:
		return tc_counters(t, c, e);
	case NETEM_USER:
		return user_counters(t, c, e);
	default:
		return 0;
	}
}

/* Tear down (owner) or just free (attached). */
void topo_destroy(struct topology *t)
{
	if (!t)
		return;
	if (t->drv == NETEM_USER)
		user_teardown(t);
	if (!t->attached && t->drv != NETEM_NONE && t->owner == getpid()) {
		for (int i = 0; i < t->nhosts; i++) {
			char path[128];
			struct stat st;
			snprintf(path, sizeof path, NETNS_DIR "/%s", t->hosts[i].netns);
			if (stat(path, &st))
				continue;
			struct err e = {0};
			if (cmd_run(&e, NULL, 0, "ip", "netns", "del", t->hosts[i].netns, NULL))
				log_warn("teardown: %s", e.msg);
		}
	}
	free(t);
}

/* Save what topo_attach() needs. */
int topo_save(const struct topology *t, const char *path, struct err *e)
{
	char tmp[300];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return err_errno(e, errno, "cannot write %s", tmp);
	fprintf(f, "# memsync-net state: `memsync-net down --state %s` tears it down\n", path);
	fprintf(f, "pid = %d\ndriver = %s\nprofile = %s\nhosts = %d\n", (int)t->owner, driver_name(t->drv),
		t->prof.path, t->nhosts);
	for (int i = 0; i < t->nhosts; i++)
		fprintf(f, "host%d = %s %s %s\n", i, t->hosts[i].name,
			t->drv == NETEM_NONE ? "-" : t->hosts[i].netns, t->hosts[i].addr);
	if (fclose(f))
		return err_errno(e, errno, "cannot write %s", tmp);
	if (rename(tmp, path))
		return err_errno(e, errno, "cannot rename %s to %s", tmp, path);
	return 0;
}

/* Load a state file written by topo_save(). */
int topo_attach(struct topology **out, const char *path, struct err *e)
{
	static const char *const known[] = {"pid", "driver", "profile", "hosts", "host0", "host1", "host2", NULL};
	struct conf c;
	*out = NULL;
	if (conf_load(&c, path, e) || conf_check_keys(&c, known, e))
		return -1;
	const char *need[] = {"pid", "driver", "profile", "hosts"};
	for (size_t i = 0; i < 4; i++)
		if (!conf_get(&c, need[i]))
			return err_set(e, "%s: missing key '%s'", path, need[i]);
	struct topology *t = calloc(1, sizeof *t);
	if (!t)
		return err_errno(e, errno, "calloc");
	t->attached = 1;
	t->link_pid = -1;
	t->owner = (pid_t)atoi(conf_get(&c, "pid")->value);
	t->nhosts = atoi(conf_get(&c, "hosts")->value);
	if (netem_driver_parse(conf_get(&c, "driver")->value, &t->drv, e) ||
	    profile_load(conf_get(&c, "profile")->value, &t->prof, e))
		goto fail;
	if (t->nhosts < 2 || t->nhosts > TOPO_MAX_HOSTS) {
		conf_error(&c, conf_get(&c, "hosts"), e, "bad host count");
		goto fail;
	}
	for (int i = 0; i < t->nhosts; i++) {
		char key[16];
		snprintf(key, sizeof key, "host%d", i);
		const struct conf_entry *h = conf_get(&c, key);
		struct topo_host *th = &t->hosts[i];
		char ns[64];
		if (!h || sscanf(h->value, "%15s %63s %15s", th->name, ns, th->addr) != 3) {
			conf_error(&c, h, e, "expected '%s = NAME NETNS ADDR'", key);
			goto fail;
		}
		snprintf(th->netns, sizeof th->netns, "%s", strcmp(ns, "-") ? ns : "");
	}
	if (t->drv == NETEM_USER && user_attach_stats(t, e))
		goto fail;
	*out = t;
	return 0;
fail:
	free(t);
	return -1;
}
