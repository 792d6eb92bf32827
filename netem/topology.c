/*
 * topology.c - host namespaces, addresses, lifetime and stale cleanup (see
 * topology.h). The links between the hosts are the chosen driver's: this
 * file calls it only through its struct link_driver (driver.h).
 */
#include "netem/topology.h"

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

#include "cmd.h"
#include "conf.h"
#include "log.h"
#include "netem/ceiling.h"
#include "netem/driver.h"
#include "proc.h"

struct topology {
	struct netem_profile prof;
	const struct link_driver *drv;
	int nhosts;
	struct topo_host hosts[TOPO_MAX_HOSTS];
	pid_t owner;          /* the creating process: namespaces are ms<owner>-h<i> */
	int attached;         /* 1 = loaded from a state file: destroy frees memory only */
	struct link_ctx link; /* what the driver sees; link.priv is its state */
};

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
		if (netns_run(h->netns, set_tcp_buffers, NULL, &se))
			log_warn("cannot raise the TCP buffer limits in %s: %s", h->netns,
				 se.set ? se.msg : strerror(errno));
	}
	return 0;
}

/* The driver's view of t. */
static void topo_link_init(struct topology *t)
{
	t->link = (struct link_ctx){
		.prof = &t->prof, .nhosts = t->nhosts, .hosts = t->hosts, .owner = t->owner, .attached = t->attached,
	};
}

/* Build a topology. */
int topo_create(struct topology **out, const struct netem_profile *p, int nhosts, enum netem_driver drv,
		struct err *e)
{
	*out = NULL;
	if (nhosts < 2 || nhosts > TOPO_MAX_HOSTS)
		return err_set(e, "a topology has 2 to %d hosts, not %d", TOPO_MAX_HOSTS, nhosts);
	const struct link_driver *d = link_driver_choose(drv, e);
	if (!d)
		return -1;
	struct topology *t = calloc(1, sizeof *t);
	if (!t)
		return err_errno(e, errno, "calloc");
	t->prof = *p;
	t->drv = d;
	t->nhosts = nhosts;
	t->owner = getpid();
	for (int i = 0; i < nhosts; i++) {
		struct topo_host *h = &t->hosts[i];
		snprintf(h->name, sizeof h->name, "h%d", i);
		if (!d->namespaces) {
			snprintf(h->addr, sizeof h->addr, "127.0.0.1");
		} else {
			snprintf(h->netns, sizeof h->netns, "ms%d-h%d", (int)t->owner, i);
			snprintf(h->addr, sizeof h->addr, "198.18.0.%d", i + 1);
		}
	}
	topo_link_init(t);
	if (d->namespaces) {
		struct err ce = {0};
		if (topo_cleanup_stale(&ce))
			log_warn("%s", ce.msg);
	}
	if ((d->namespaces && create_namespaces(t, e)) || d->setup(&t->link, e)) {
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
	return t->drv->name;
}

/* What carries the packets. */
const char *topo_link_path(const struct topology *t)
{
	return t->drv->path(&t->link);
}

/* The driver's measured ceiling for the profile (shipped profiles only: a
 * file elsewhere with the same name is another link). */
int topo_link_ceiling(const struct topology *t, struct topo_ceiling *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	if (!t->drv->applies_profile || !profile_is_shipped(&t->prof))
		return 0;
	int rc = ceiling_get(t->drv->name, t->prof.name, &c->mbit, e);
	if (rc < 0)
		return -1;
	c->known = rc;
	c->capped = rc && ceiling_caps(&t->prof, c->mbit);
	return 0;
}

/* setns the calling thread into host i (no-op without namespaces). */
int topo_enter(const struct topology *t, int i, struct err *e)
{
	const struct topo_host *h = topo_host(t, i);
	if (!h)
		return err_set(e, "no host %d in this topology", i);
	if (!t->drv->namespaces)
		return 0;
	char path[128];
	netns_path(h->netns, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno, "open %s", path);
	int rc = setns(fd, CLONE_NEWNET);
	int er = errno;
	close(fd);
	return rc ? err_errno(e, er, "setns into %s", h->netns) : 0;
}

/* Link counters of host 0, from the driver. */
int topo_counters(const struct topology *t, struct link_counters *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	return t->drv->counters(&t->link, c, e);
}

/* d = b - a. */
void link_counters_delta(const struct link_counters *a, const struct link_counters *b, struct link_counters *d)
{
	for (int i = 0; i < 2; i++) {
		d->bytes[i] = b->bytes[i] - a->bytes[i];
		d->packets[i] = b->packets[i] - a->packets[i];
		d->drops[i] = b->drops[i] - a->drops[i];
		d->cpu_ns[i] = b->cpu_ns[i] - a->cpu_ns[i];
	}
	d->cpu_known = b->cpu_known;
}

/* Emulator CPU seconds per 10^9 bytes forwarded. */
double link_cpu_s_per_gb(const struct link_counters *d)
{
	uint64_t bytes = d->bytes[0] + d->bytes[1];
	if (!d->cpu_known || !bytes)
		return -1;
	return (double)(d->cpu_ns[0] + d->cpu_ns[1]) / 1e9 / ((double)bytes / 1e9);
}

/* Tear down (owner) or just free (attached). */
void topo_destroy(struct topology *t)
{
	if (!t)
		return;
	t->drv->teardown(&t->link);
	if (!t->attached && t->drv->namespaces && t->owner == getpid()) {
		for (int i = 0; i < t->nhosts; i++) {
			char path[128];
			struct stat st;
			netns_path(t->hosts[i].netns, path, sizeof path);
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
	fprintf(f, "pid = %d\ndriver = %s\nprofile = %s\nhosts = %d\n", (int)t->owner, t->drv->name, t->prof.path,
		t->nhosts);
	for (int i = 0; i < t->nhosts; i++)
		fprintf(f, "host%d = %s %s %s\n", i, t->hosts[i].name, t->drv->namespaces ? t->hosts[i].netns : "-",
			t->hosts[i].addr);
	if (fclose(f))
		return err_errno(e, errno, "cannot write %s", tmp);
	if (rename(tmp, path))
		return err_errno(e, errno, "cannot rename %s to %s", tmp, path);
	return 0;
}

/* Read the hosts of a state file into t. */
static int topo_attach_hosts(struct topology *t, const struct conf *c, struct err *e)
{
	if (t->nhosts < 2 || t->nhosts > TOPO_MAX_HOSTS)
		return conf_error(c, conf_get(c, "hosts"), e, "bad host count");
	for (int i = 0; i < t->nhosts; i++) {
		char key[16];
		snprintf(key, sizeof key, "host%d", i);
		const struct conf_entry *h = conf_get(c, key);
		struct topo_host *th = &t->hosts[i];
		char ns[64];
		if (!h || sscanf(h->value, "%15s %63s %15s", th->name, ns, th->addr) != 3)
			return conf_error(c, h, e, "expected '%s = NAME NETNS ADDR'", key);
		snprintf(th->netns, sizeof th->netns, "%s", strcmp(ns, "-") ? ns : "");
	}
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
	t->owner = (pid_t)atoi(conf_get(&c, "pid")->value);
	t->nhosts = atoi(conf_get(&c, "hosts")->value);
	t->drv = link_driver_find(conf_get(&c, "driver")->value);
	if (!t->drv)
		conf_error(&c, conf_get(&c, "driver"), e, "unknown driver '%s'", conf_get(&c, "driver")->value);
	if (!t->drv || profile_load(conf_get(&c, "profile")->value, &t->prof, e) || topo_attach_hosts(t, &c, e)) {
		free(t);
		return -1;
	}
	topo_link_init(t);
	if (t->drv->attach_stats(&t->link, e)) {
		topo_destroy(t);
		return -1;
	}
	*out = t;
	return 0;
}
