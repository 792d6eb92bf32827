/*
 * clock.h - the one clock every measurement uses: CLOCK_MONOTONIC in ns.
 */
#ifndef MEMSYNC_CLOCK_H
#define MEMSYNC_CLOCK_H

/* Monotonic clock in nanoseconds. */
unsigned long long now_ns(void);

#endif
