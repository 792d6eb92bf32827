/*
 * uffd_state.c - the uffd core's shared state: the fatal error, the chunk
 * state changes, installing data with UFFDIO_COPY and the pool of request
 * slots. The bottom of the core: calls no other uffd file.
 *
 * Every chunk has one state byte (absent / in flight / present) changed
 * with compare-and-swap, so demand faults and the puller never fetch a
 * chunk twice; a fault on a chunk in flight waits for that fetch's
 * UFFDIO_COPY, which wakes every waiter on the range.
 */
#include "uffd_int.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

#define NAP_STEP_NS 10000000ull   /* uffd_nap() checks for stop every 10 ms */
#define COPY_MAX_RETRIES 100000   /* UFFDIO_COPY EAGAIN/EINTR retries before giving up */
#define NS_PER_S 1000000000ull

/* Wake whoever waits on cond under lock. */
static void broadcast(pthread_mutex_t *lock, pthread_cond_t *cond)
{
	pthread_mutex_lock(lock);
	pthread_cond_broadcast(cond);
	pthread_mutex_unlock(lock);
}

/* Record the first fatal error, log it and tell the harness (any thread). */
void uffd_fatal(struct uffd *u, const char *fmt, ...)
{
	pthread_mutex_lock(&u->err_lock);
	int first = !u->fatal.set;
	if (first) {
		va_list ap;
		va_start(ap, fmt);
		err_vset(&u->fatal, 0, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&u->err_lock);
	atomic_store(&u->failed, 1);
	if (!first)
		return;
	log_warn("uffd: %s", u->fatal.msg);
	/* Nobody waits forever for what will not come now. */
	broadcast(&u->push_lock, &u->push_cond);
	broadcast(&u->conn_lock, &u->conn_cond);
	if (u->r && u->r->report_fatal)
		u->r->report_fatal(u->r, u->fatal.msg);
}

/* -1 with the fatal error in e if the handler failed, else 0. */
int uffd_failed(struct uffd *u, struct err *e)
{
	if (!atomic_load(&u->failed))
		return 0;
	pthread_mutex_lock(&u->err_lock);
	err_set(e, "%s", u->fatal.msg);
	pthread_mutex_unlock(&u->err_lock);
	return -1;
}

/* The demand client, waiting until it is connected (hooks.connect). */
struct remote *uffd_fg(struct uffd *u, struct err *e)
{
	pthread_mutex_lock(&u->conn_lock);
	while (!u->fg && !atomic_load(&u->stopping) && !atomic_load(&u->failed))
		pthread_cond_wait(&u->conn_cond, &u->conn_lock);
	struct remote *fg = u->fg;
	pthread_mutex_unlock(&u->conn_lock);
	if (!fg)
		err_set(e, "no connection to %s", u->uri);
	return fg;
}

/* Sleep ns nanoseconds in short steps unless stopping. */
void uffd_nap(struct uffd *u, uint64_t ns)
{
	for (uint64_t slept = 0; slept < ns && !atomic_load(&u->stopping); slept += NAP_STEP_NS) {
		uint64_t step = ns - slept < NAP_STEP_NS ? ns - slept : NAP_STEP_NS;
		struct timespec ts = {0, (long)step};
		nanosleep(&ts, NULL);
	}
}

/* The absolute time ns from now on clock clk, for a timed wait. */
void uffd_deadline(clockid_t clk, uint64_t ns, struct timespec *ts)
{
	clock_gettime(clk, ts);
	uint64_t nsec = (uint64_t)ts->tv_nsec + ns;
	ts->tv_sec += (time_t)(nsec / NS_PER_S);
	ts->tv_nsec = (long)(nsec % NS_PER_S);
}

/* Bytes in chunks [c0, c0 + n). */
uint64_t uffd_run_len(const struct uffd *u, uint64_t c0, uint64_t n)
{
	uint64_t off = c0 * u->chunk, end = (c0 + n) * u->chunk;
	return (end > u->size ? u->size : end) - off;
}

/* Wake every thread waiting on a fault in [off, off + len). */
void uffd_wake_range(struct uffd *u, uint64_t off, uint64_t len)
{
	struct uffdio_range rg = {u->base + off, len};
	if (ioctl(u->uffd, UFFDIO_WAKE, &rg) && errno != ENOENT && errno != ESRCH && !atomic_load(&u->stopping))
		log_debug("uffd: UFFDIO_WAKE: %s", strerror(errno));
}

/*
 * Install len bytes from src at region offset off with UFFDIO_COPY:
 * continues after partial copies, retries EAGAIN, skips pages that are
 * already there (EEXIST) and wakes their waiters. Returns 0 or -1 with errno
 * (ESRCH/ENOENT: the workload's mm is gone).
 */
int uffd_copy_in(struct uffd *u, const void *src, uint64_t off, uint64_t len, int wp)
{
	uint64_t done = 0;
	int eexist = 0, again = 0;
	while (done < len) {
		struct uffdio_copy cp = {.dst = u->base + off + done,
					 .src = (uintptr_t)src + done,
					 .len = len - done,
					 .mode = wp ? UFFDIO_COPY_MODE_WP : 0};
		if (ioctl(u->uffd, UFFDIO_COPY, &cp) == 0)
			break;
		int en = errno;
		if (cp.copy > 0) {
			done += (uint64_t)cp.copy;
			continue;
		}
		if ((en == EAGAIN || en == EINTR) && ++again < COPY_MAX_RETRIES) {
			sched_yield();
			continue;
		}
		if (en == EEXIST) {
			eexist = 1;
			done += UFFD_PAGE;
			continue;
		}
		errno = en;
		return -1;
	}
	if (eexist)
		uffd_wake_range(u, off, len);
	atomic_fetch_add(&u->copies, 1);
	return 0;
}

/* Add to one of the region's counters (read by the harness thread). */
void uffd_count(uint64_t *field, uint64_t v)
{
	__atomic_fetch_add(field, v, __ATOMIC_RELAXED);
}

/* Mark chunks [c0, c0 + n) present after their data was installed. */
void uffd_mark_present(struct uffd *u, uint64_t c0, uint64_t n, int dirty)
{
	for (uint64_t c = c0; c < c0 + n; c++) {
		if (dirty) {
			pthread_mutex_t *l = uffd_lock(u, c);
			pthread_mutex_lock(l);
			if (!atomic_exchange(&u->dirty[c], 1))
				uffd_count(&u->r->chunks_dirty, 1);
			atomic_store(&u->state[c], CH_PRESENT);
			pthread_mutex_unlock(l);
		} else {
			atomic_store(&u->state[c], CH_PRESENT);
		}
	}
	atomic_fetch_add(&u->npresent, n);
}

/* Count chunks [c0, c0 + n) as pulled, once their UFFDIO_COPY succeeded: a
 * copy that failed puts them back to absent and they are fetched again, which
 * must not count twice. */
void uffd_count_pulled(struct uffd *u, uint64_t c0, uint64_t n)
{
	uffd_count(&u->r->bytes_pulled, uffd_run_len(u, c0, n));
}

/* Put chunks [c0, c0 + n) back to absent (a fetch failed) and wake their waiters. */
void uffd_mark_absent(struct uffd *u, uint64_t c0, uint64_t n)
{
	for (uint64_t c = c0; c < c0 + n; c++)
		atomic_store(&u->state[c], CH_ABSENT);
	atomic_fetch_add(&u->nabsent, n);
	uffd_wake_range(u, c0 * u->chunk, uffd_run_len(u, c0, n));
	pthread_cond_broadcast(&u->pull_cond);
}

/* Take a free request slot, waiting for one; NULL when stopping. */
struct uffd_slot *uffd_slot_get(struct uffd *u)
{
	pthread_mutex_lock(&u->pool_lock);
	while (!u->free_slots && !atomic_load(&u->stopping))
		pthread_cond_wait(&u->pool_cond, &u->pool_lock);
	struct uffd_slot *s = atomic_load(&u->stopping) ? NULL : u->free_slots;
	if (s)
		u->free_slots = s->next;
	pthread_mutex_unlock(&u->pool_lock);
	return s;
}

/* Return a request slot to the pool. */
void uffd_slot_put(struct uffd *u, struct uffd_slot *s)
{
	atomic_store(&s->t_submit, 0);
	pthread_mutex_lock(&u->pool_lock);
	s->next = u->free_slots;
	u->free_slots = s;
	pthread_cond_signal(&u->pool_cond);
	pthread_mutex_unlock(&u->pool_lock);
}
