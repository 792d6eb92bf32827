/*
 * link.h - the userspace link emulator of the "user" driver.
 *
 * Every host namespace has one TUN device; the emulator process reads each
 * IPv4 packet from the sender's TUN, picks the destination host from the
 * address (198.18.0.<i+1>), and queues it on that direction's FIFO, which
 * applies the profile: random loss, drop-tail queue limit, a token-bucket
 * bottleneck rate (serialization at rate_bps), then the one-way delay plus
 * jitter (never reordering). At its departure time the packet is written to
 * the destination host's TUN. Per-direction counters live in a shared
 * memory page (/dev/shm/ms<pid>-link) that topo_counters() reads.
 */
#ifndef MEMSYNC_NETEM_LINK_H
#define MEMSYNC_NETEM_LINK_H

#include <stdint.h>
#include <sys/types.h>

#include "netem/profile.h"
#include "netem/topology.h"

#define LINK_STATS_MAGIC 0x4d534c4bU /* "MSLK" */

enum link_state { LINK_STARTING = 0, LINK_RUNNING = 1, LINK_FAILED = 2, LINK_STOPPED = 3 };

/* Shared counters page: written by the emulator, read by anyone. */
struct link_stats {
	uint32_t magic;
	int32_t state;  /* enum link_state */
	int32_t nhosts;
	int32_t pid;    /* the emulator process */
	uint64_t packets[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS]; /* [from][to], delivered */
	uint64_t bytes[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS];
	uint64_t drops[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS];   /* loss + queue limit */
	uint64_t unroutable;                              /* not IPv4 to a known host */
	char errmsg[256];
};

/* MTU of the TUN devices: $MEMSYNC_LINK_MTU or 9000. */
int link_mtu(void);

/* Run the emulator loop on tun_fds[nhosts] (host i's TUN) until SIGTERM or its parent exits,
 * counting into stats. Returns 0 on a clean stop, -1 on error (also in stats). */
int link_run(const struct netem_profile *p, const int *tun_fds, int nhosts, struct link_stats *stats);

#endif
