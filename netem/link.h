/*
 * link.h - the userspace link emulator of the "user" driver.
 *
 * Every pair of hosts (i, j) is joined by two TUN devices: "v<j>" in host
 * i and "v<i>" in host j. The emulator runs one thread per direction: the
 * thread of i -> j reads what host i sends from i's device, queues it on
 * that direction's FIFO, which applies the profile (random loss, drop-tail
 * queue limit, a token-bucket bottleneck rate, then the one-way delay plus
 * jitter, never reordering), and at its departure time writes it to j's
 * device. It sleeps on the device and a timerfd armed for the next
 * departure (no busy polling), waking early by its measured wake-up
 * latency. With a virtio-net header on the devices (IFF_VNET_HDR) and
 * offloads, TCP's GSO super-packets cross in one piece on loss-free
 * profiles; the limit, the counters and the rate count their segments.
 * Per-direction counters, and each direction's CPU time, live in a shared
 * memory page (/dev/shm/ms<pid>-link) that topo_counters() reads.
 */
#ifndef MEMSYNC_NETEM_LINK_H
#define MEMSYNC_NETEM_LINK_H

#include <stdint.h>
#include <sys/types.h>

#include "netem/profile.h"
#include "netem/topology.h"

#define LINK_STATS_MAGIC 0x4d534c4cU /* "MSLL" (layout 2: frames and cpu_ns) */

enum link_state { LINK_STARTING = 0, LINK_RUNNING = 1, LINK_FAILED = 2, LINK_STOPPED = 3 };

/* Shared counters page: written by the emulator, read by anyone. [from][to]. */
struct link_stats {
	uint32_t magic;
	int32_t state;  /* enum link_state */
	int32_t nhosts;
	int32_t pid;    /* the emulator process */
	uint64_t packets[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS]; /* delivered, in wire packets (GSO segments) */
	uint64_t bytes[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS];   /* delivered, with every segment's headers */
	uint64_t drops[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS];   /* loss + queue limit + failed writes, in packets */
	uint64_t frames[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS];  /* delivered reads/writes (a super-packet is one) */
	uint64_t cpu_ns[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS];  /* CPU time of the direction's thread */
	uint64_t unroutable;                              /* not IPv4: not forwarded */
	char errmsg[256];
};

/* The emulator's ends of the links. */
struct link_ports {
	int nhosts;
	int fd[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS]; /* fd[i][j]: host i's device towards host j (-1 on the diagonal) */
	int vnet_hdr;                           /* 1: every packet starts with a struct virtio_net_hdr */
};

/* MTU of the devices: $MEMSYNC_LINK_MTU or 9000. */
int link_mtu(void);

/* 1 when GSO super-packets may cross a link with this profile (no loss:
 * loss must stay per packet). */
int link_allows_gso(const struct netem_profile *p);

/* Run the emulator on ports until SIGTERM/SIGINT or its parent exits, counting
 * into stats. Blocks those signals in the caller. Returns 0 on a clean stop,
 * -1 on error (also in stats). */
int link_run(const struct netem_profile *p, const struct link_ports *ports, struct link_stats *stats);

#endif
