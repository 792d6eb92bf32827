/*
 * ceiling.h - what each link driver measurably delivers, per profile.
 *
 * A driver may not reach a profile's rate (the user emulator on a 10 Gbit/s
 * profile, say). The netem bench measures TCP throughput through every
 * (driver, profile) and stores it with `memsync-net ceiling --set`, one data
 * file per driver: <dir>/<driver>.conf with lines `<profile> = <rate>`
 * (e.g. `lan = 5400mbit`). A scenario on a profile whose rate is above
 * what its driver delivered is marked "link_capped" with the ceiling.
 * Without a measurement the ceiling is unknown and nothing is marked.
 */
#ifndef MEMSYNC_NETEM_CEILING_H
#define MEMSYNC_NETEM_CEILING_H

#include "err.h"
#include "netem/profile.h"

/* A rate is reached when the measured throughput is at least this fraction
 * of it (the netem bench's tolerance: within 10 %). */
#define CEILING_REACHED_FRACTION 0.9

/* The directory of the ceiling files: $MEMSYNC_NETEM_CEILINGS, else
 * <source dir>/netem/ceilings. */
const char *ceiling_dir(void);

/* The ceiling stored for (driver, profile) in *mbit: 1 when found, 0 when
 * none is stored, -1 when the file is bad ("file:line: reason"). */
int ceiling_get(const char *driver, const char *profile, double *mbit, struct err *e);

/* Store (or replace) the ceiling of (driver, profile), in Mbit/s. */
int ceiling_set(const char *driver, const char *profile, double mbit, struct err *e);

/* 1 when p has a rate and a measured ceiling of mbit does not reach it. */
int ceiling_caps(const struct netem_profile *p, double mbit);

#endif
