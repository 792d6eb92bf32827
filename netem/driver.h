/*
 * driver.h - the link driver interface: what the topology gives a driver
 * and the ops every driver implements.
 *
 * A driver joins the hosts' namespaces with links that apply the profile.
 * topology.c creates the namespaces and calls the chosen driver only
 * through its struct link_driver; it knows no driver by name. The drivers
 * (driver_tc.c, driver_user.c, the none driver in drivers.c) see the hosts
 * through struct link_ctx and use the helpers declared here (netns.c,
 * veth.c), never topology.c. drivers.c lists the drivers and picks one.
 */
#ifndef MEMSYNC_NETEM_DRIVER_H
#define MEMSYNC_NETEM_DRIVER_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "netem/profile.h"
#include "netem/topology.h"

/* What a driver sees of a topology. */
struct link_ctx {
	const struct netem_profile *prof;
	int nhosts;
	const struct topo_host *hosts; /* hosts[0..nhosts-1], namespaces already created */
	pid_t owner;                   /* the creating process */
	int attached;                  /* 1: another process reading a saved topology (counters only) */
	void *priv;                    /* the driver's own state, freed by teardown */
};

/* One link driver. Every hook is mandatory (drivers.c checks). */
struct link_driver {
	const char *name;    /* "tc", "user", "none": the name records carry */
	const char *summary; /* one line for `memsync-net probe` */
	int namespaces;      /* 0: every host is 127.0.0.1 in the caller's namespace */
	int applies_profile; /* 0: the links carry no delay, rate or loss */
	/* 1 when the driver can run on this machine; else 0 with the reason in why. */
	int (*available)(char *why, size_t len);
	/* Join the hosts with links that apply c->prof (the owner, once). */
	int (*setup)(struct link_ctx *c, struct err *e);
	/* Prepare counters() in a process that attached to a saved topology. */
	int (*attach_stats)(struct link_ctx *c, struct err *e);
	/* Host 0's link counters, both directions (out is zeroed by the caller). */
	int (*counters)(const struct link_ctx *c, struct link_counters *out, struct err *e);
	/* What carries the packets of this topology: "veth", "netem", "emulator", "loopback". */
	const char *(*path)(const struct link_ctx *c);
	/* Stop what setup started (owner) or release what attach_stats mapped; free c->priv. */
	void (*teardown)(struct link_ctx *c);
};

/* The drivers (defined in driver_tc.c, driver_user.c, drivers.c). */
extern const struct link_driver link_driver_tc, link_driver_user, link_driver_none;

/* The driver for d (NETEM_AUTO: the first available of tc, user); NULL with a reason in e. */
const struct link_driver *link_driver_choose(enum netem_driver d, struct err *e);
/* The driver called name, or NULL. */
const struct link_driver *link_driver_find(const char *name);

/* Where `ip netns` keeps the named namespaces. */
#define NETNS_DIR "/run/netns"

/* netns.c: run fn(arg) with the calling thread inside netns, then come back. */
int netns_run(const char *netns, int (*fn)(void *arg), void *arg, struct err *e);
/* netns.c: the path of a named namespace ("/run/netns/NAME") into buf. */
void netns_path(const char *netns, char *buf, size_t len);

/* mesh.c: every pair of hosts (i, j) is joined by a point-to-point link:
 * device "v<j>" in host i leads to host j (/32 addresses, MTU link_mtu()). */
/* mesh.c: one veth pair per pair of hosts, configured and up. per_packet = 1
 * turns GSO off (gso_max_segs 1) so that a qdisc sees real packets. */
int mesh_veth(const struct link_ctx *c, int per_packet, struct err *e);
/* mesh.c: give device "v<peer>" of host i its MTU, queue length (NULL: the
 * default) and point-to-point addresses, and bring it up. */
int mesh_dev_up(const struct link_ctx *c, int i, int peer, const char *txqueuelen, struct err *e);
/* mesh.c: host 0's bytes and packets summed over its "v<N>" devices (kernel counters). */
int mesh_counters(const struct link_ctx *c, struct link_counters *out, struct err *e);

#endif
