/*
 * topology.h - the suite's own hosts as network namespaces, joined by
 * links shaped with a netem profile.
 *
 * Hosts are namespaces "ms<pid>-h<i>" (unique per run) with addresses
 * 198.18.0.<i+1> (RFC 2544 benchmarking range). Every pair of hosts talks
 * through a link that applies the profile in each direction, so the RTT
 * between any two hosts is 2 x delay. Drivers (netem/driver.h, drivers.c):
 *   tc   - kernel netem on every veth egress of a full mesh of veth pairs
 *   user - TUN devices and a userspace link emulator process, one thread
 *          per direction
 *   none - no namespaces: every host is 127.0.0.1 in the caller's namespace
 * A profile that shapes nothing (no delay, rate limit or loss) is a plain
 * veth pair in both namespace drivers: no emulator and no qdisc in the path.
 * The caller must call topo_destroy() on every exit path; topo_cleanup_stale()
 * removes what crashed runs left behind.
 */
#ifndef MEMSYNC_NETEM_TOPOLOGY_H
#define MEMSYNC_NETEM_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "netem/profile.h"

#define TOPO_MAX_HOSTS 3

enum netem_driver { NETEM_AUTO, NETEM_TC, NETEM_USER, NETEM_NONE };

struct topo_host {
	char name[16];   /* "h0", "h1", "h2" */
	char netns[64];  /* "ms1234-h0"; "" for the none driver */
	char addr[16];   /* "198.18.0.1" */
};

/* [0] = host0 -> others, [1] = others -> host0 */
struct link_counters {
	uint64_t bytes[2], packets[2], drops[2];
	uint64_t cpu_ns[2]; /* CPU time the link emulator spent on each direction */
	int cpu_known;      /* 1 when cpu_ns is measured (user driver's emulator); 0 when the
			     * kernel does the work in the senders' context (veth, netem) */
};

/* What a driver is known to deliver on a profile (netem/ceilings/<driver>.conf). */
struct topo_ceiling {
	int known;      /* 0: no measurement for this driver and profile */
	double mbit;    /* measured TCP throughput through the link, Mbit/s */
	int capped;     /* 1: the profile's rate is more than the driver delivers */
};

struct topology;

/* Create nhosts (2..3) hosts joined by links shaped by p. */
int topo_create(struct topology **out, const struct netem_profile *p, int nhosts, enum netem_driver drv,
		struct err *e);
/* Host i, or NULL when out of range. */
const struct topo_host *topo_host(const struct topology *t, int i);
/* Number of hosts. */
int topo_nhosts(const struct topology *t);
/* The profile the links apply. */
const struct netem_profile *topo_profile(const struct topology *t);
/* Move the calling thread into host i's network namespace (use in forked children). */
int topo_enter(const struct topology *t, int i, struct err *e);
/* Bytes, packets and drops on host 0's links, both directions. */
int topo_counters(const struct topology *t, struct link_counters *c, struct err *e);
/* "tc", "user" or "none". */
const char *topo_driver_name(const struct topology *t);
/* What carries the packets: "veth" (an unshaped profile), "netem" (tc),
 * "emulator" (user) or "loopback" (none). */
const char *topo_link_path(const struct topology *t);
/* The driver's measured ceiling for the topology's profile (see ceiling.h):
 * capped = 1 when the profile's rate is above what the driver delivers.
 * Unknown (known = 0) without a measurement. 0, or -1 on a bad data file. */
int topo_link_ceiling(const struct topology *t, struct topo_ceiling *c, struct err *e);
/* Stop the link emulator, delete the namespaces, free t (NULL is fine). */
void topo_destroy(struct topology *t);
/* Remove namespaces and emulator state left by runs whose creating process
 * is dead; logs what it removes. 0 or -1. */
int topo_cleanup_stale(struct err *e);
/* As topo_cleanup_stale(), also saying how many items it removed. */
int topo_cleanup_stale_counted(int *removed, struct err *e);

/* "auto", "tc", "user", "none" -> d. */
int netem_driver_parse(const char *s, enum netem_driver *d, struct err *e);
/* d -> "auto", "tc", "user", "none". */
const char *netem_driver_name(enum netem_driver d);
/* One line saying what driver d is. */
const char *netem_driver_summary(enum netem_driver d);
/* 1 when driver d can run on this machine (auto: when any can), else 0 with
 * the reason in why (asked once per process; the tc probe loads sch_netem
 * quietly and adds a netem qdisc in a throwaway namespace). */
int netem_driver_available(enum netem_driver d, char *why, size_t len);
/* 1 when the kernel has the netem qdisc (netem_driver_available(NETEM_TC)). */
int netem_tc_available(void);

/* d = b - a, field by field (cpu_known of b). */
void link_counters_delta(const struct link_counters *a, const struct link_counters *b, struct link_counters *d);
/* Emulator CPU seconds per GB (10^9 bytes) forwarded in both directions, from a
 * delta; -1 when unknown (no emulator in the path, or nothing forwarded). */
double link_cpu_s_per_gb(const struct link_counters *d);

/* Write what another process needs to attach to t (key = value file). */
int topo_save(const struct topology *t, const char *path, struct err *e);
/* Attach to a topology saved by topo_save() (for counters); topo_destroy()
 * on it frees memory only, it does not tear down. */
int topo_attach(struct topology **out, const char *path, struct err *e);
/* Pid of the process that owns the topology (its creator). */
int topo_owner_pid(const struct topology *t);
/* 1 while the owner process is alive (not a zombie). */
int topo_owner_alive(const struct topology *t);

#endif
