/* clock.c - the monotonic clock of every measurement. */
#include "clock.h"

#include <time.h>

/* CLOCK_MONOTONIC in ns. */
unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}
