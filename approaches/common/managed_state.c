/*
 * managed_state.c - the managed engine's chunk arrival: a fetched chunk
 * becomes present (or absent again on an error) and its waiters wake; the
 * deadlines every wait of the engine uses. Called by the demand path
 * (managed.c) and the background pull (managed_pull.c).
 */
#include "managed_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "clock.h"
#include "log.h"

/* Absolute CLOCK_MONOTONIC time ns from now. */
void managed_deadline(struct timespec *ts, unsigned long long ns_from_now)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	unsigned long long ns = (unsigned long long)ts->tv_nsec + ns_from_now % 1000000000ull;
	ts->tv_sec += (time_t)(ns_from_now / 1000000000ull + ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

/* Count one more chunk present (its stripe lock held, right after it was
 * marked present: whoever sees the chunk present through the lock sees
 * the count); 1 when it was the last. */
int managed_present_inc_locked(struct managed *m)
{
	return atomic_fetch_add(&m->present, 1) + 1 == m->nchunks;
}

/* The last chunk became present: the pull is done; wake its waiters. */
void managed_pull_done_signal(struct managed *m)
{
	atomic_store(&m->pull_done_ns, now_ns() - m->t0);
	pthread_mutex_lock(&m->pull_lock);
	pthread_cond_broadcast(&m->done_cond);
	pthread_mutex_unlock(&m->pull_lock);
}

/* Finish a fetch of chunk c: PRESENT on success, ABSENT on error. */
void managed_landed(struct managed *m, uint64_t c, int error)
{
	struct stripe *s = ch_stripe(m, c);
	pthread_mutex_lock(&s->lock);
	ch_set(m, c, (uint8_t)((ch_get(m, c) & ~CH_RES) | (error ? CH_ABSENT : CH_PRESENT)));
	int last = !error && managed_present_inc_locked(m);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (last)
		managed_pull_done_signal(m);
}
