/*
 * topology_impl.h - what topology.c shares with the drivers (driver_tc.c,
 * driver_user.c). Not part of the public API.
 */
#ifndef MEMSYNC_NETEM_TOPOLOGY_IMPL_H
#define MEMSYNC_NETEM_TOPOLOGY_IMPL_H

#include <sys/types.h>

#include "netem/link.h"
#include "netem/topology.h"

struct topology {
	struct netem_profile prof;
	enum netem_driver drv;
	int nhosts;
	struct topo_host hosts[TOPO_MAX_HOSTS];
	pid_t owner;             /* the creating process: namespaces are ms<owner>-h<i> */
	int attached;            /* 1 = loaded from a state file: destroy frees memory only */
	pid_t link_pid;          /* user driver: the emulator process */
	struct link_stats *stats;/* user driver: shared counters page */
	char shm_name[64];       /* user driver: "/ms<owner>-link" */
};

/* Run fn(arg) with the calling thread inside netns (then back). */
int topo_in_netns(const char *netns, int (*fn)(void *arg), void *arg, struct err *e);

/* tc driver: veth mesh with netem on each egress. */
int tc_setup(struct topology *t, struct err *e);
int tc_counters(const struct topology *t, struct link_counters *c, struct err *e);

/* user driver: TUN devices and the emulator process. */
int user_setup(struct topology *t, struct err *e);
int user_attach_stats(struct topology *t, struct err *e);
int user_counters(const struct topology *t, struct link_counters *c, struct err *e);
void user_teardown(struct topology *t);

#endif
