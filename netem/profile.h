/*
 * profile.h - network link profiles (netem/profiles/<name>.conf).
 *
 * A profile describes one emulated link per direction: one-way delay
 * (RTT = 2 x delay), jitter, bottleneck rate, random loss and the queue
 * limit. Both drivers (kernel netem "tc" and the userspace emulator
 * "user") apply the same profile.
 */
#ifndef MEMSYNC_NETEM_PROFILE_H
#define MEMSYNC_NETEM_PROFILE_H

#include <stdint.h>

#include "err.h"

struct netem_profile {
	char name[64];
	char path[256];
	char description[128];
	uint64_t delay_ns, jitter_ns, rate_bps; /* rate 0 = unlimited */
	double loss;                            /* probability 0..1 */
	uint64_t limit_pkts;
};

/* Load a profile by name (netem/profiles/<name>.conf under $MEMSYNC_SRC or
 * the source dir) or by path (anything with a '/' or ending in ".conf").
 * Errors read "file:line: reason". */
int profile_load(const char *name_or_path, struct netem_profile *p, struct err *e);

/* Fill names with up to max profile names in natural order (rtt-2ms before
 * rtt-10ms; conf_list()); returns the count or -1. */
int profile_list(char (*names)[64], int max, struct err *e);

/* The directory holding the shipped profiles. */
const char *profile_dir(void);

/* 1 when the profile delays, limits the rate or loses packets; 0 for an
 * unshaped link (every driver then uses plain veth pairs). */
int profile_shapes(const struct netem_profile *p);

/* 1 when p was loaded from the shipped profile of its name. */
int profile_is_shipped(const struct netem_profile *p);

/* The default queue limit for a rate and delay: twice the bandwidth-delay
 * product in 1500-byte packets (10 Gbit/s assumed when unlimited), >= 1000. */
uint64_t profile_default_limit(uint64_t rate_bps, uint64_t delay_ns, uint64_t jitter_ns);

#endif
