/*
 * uffd_fault.c - the uffd core's fault handler threads.
 *
 * A handler thread reads fault messages from the userfaultfd:
 *   - a missing page: fault-around, its whole chunk (option chunk) is
 *     fetched on the demand connection with a deadline and retries, and
 *     installed with one UFFDIO_COPY; with page_first the faulting page is
 *     requested on its own connection and installed as soon as it arrives;
 *   - a chunk already in flight: wait for that fetch's UFFDIO_COPY (with
 *     overtake, fetch just the page when the background has it in flight);
 *   - a write to a write-protected page: the chunk becomes dirty and is
 *     unprotected.
 * Every missing fault also feeds the readahead window the puller follows.
 */
#include "uffd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"

#define FAULT_MSG_BATCH 16               /* fault messages read at once */
#define RETRY_BACKOFF_NS 100000000ull    /* first pause between demand attempts (100 ms), doubling */
#define WARM_READS 2                     /* page reads per demand connection at warm-up */

/* ---- demand reads ----------------------------------------------------------- */

/* One synchronous-with-deadline read on the demand connection. */
struct dreq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, error;
	atomic_int refs;
};

/* Drop a reference; the last one frees. */
static void dreq_put(struct dreq *d)
{
	if (atomic_fetch_sub(&d->refs, 1) == 1) {
		pthread_mutex_destroy(&d->lock);
		pthread_cond_destroy(&d->cond);
		free(d);
	}
}

/* Completion of a demand read (poller thread). */
static void dreq_done(void *arg, int error)
{
	struct dreq *d = arg;
	pthread_mutex_lock(&d->lock);
	d->done = 1;
	d->error = error;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	dreq_put(d);
}

/* Submit a read on the demand connection (page: the page connection); NULL on error (in e). */
static struct dreq *dreq_submit(struct uffd *u, int page, void *buf, size_t len, uint64_t off, struct err *e)
{
	struct remote *rm = uffd_fg(u, e);
	if (!rm)
		return NULL;
	if (page && u->pg)
		rm = u->pg; /* own connection: the server must not batch it behind a chunk */
	struct dreq *d = calloc(1, sizeof *d);
	if (!d)
		return err_errno(e, ENOMEM, "demand read"), NULL;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&d->refs, 2);
	if (remote_aio_pread(rm, buf, len, off, dreq_done, d, e)) {
		dreq_put(d);
		dreq_put(d);
		return NULL;
	}
	return d;
}

/*
 * Wait for a demand read within the timeout. Returns 0, -1 (error in e), or
 * -2 on timeout: then the request and its buffer are abandoned (leaked on
 * purpose; the run fails) and the caller must not reuse the buffer.
 */
static int dreq_wait(struct uffd *u, struct dreq *d, struct err *e)
{
	struct timespec dl;
	uffd_deadline(CLOCK_MONOTONIC, u->cfg.timeout_ns, &dl);
	int rc = 0;
	pthread_mutex_lock(&d->lock);
	while (!d->done && rc == 0)
		rc = pthread_cond_timedwait(&d->cond, &d->lock, &dl);
	int done = d->done, error = d->error;
	pthread_mutex_unlock(&d->lock);
	if (!done)
		return -2;
	dreq_put(d);
	if (error)
		return err_errno(e, error, "demand read");
	return 0;
}

/* Per-handler-thread buffers: a chunk and a page. */
struct hbuf {
	unsigned char *chunk, *page;
};

/* A demand request did not come back: fail the run. */
static void demand_timeout(struct uffd *u, uint64_t len, uint64_t off)
{
	uffd_fatal(u, "remote %s did not answer a %" PRIu64 "-byte read at offset %" PRIu64
		   " within %.1f s (remote down or link dropped); the faulting access cannot complete",
		   u->uri, len, off, (double)u->cfg.timeout_ns / 1e9);
}

/* Install the page at poff; a failure other than a gone workload is fatal. */
static void install_page(struct uffd *u, const void *page, uint64_t poff, int wp)
{
	if (uffd_copy_in(u, page, poff, UFFD_PAGE, wp) && errno != ESRCH && errno != ENOENT &&
	    !atomic_load(&u->stopping))
		uffd_fatal(u, "UFFDIO_COPY of page %" PRIu64 " failed: %s", poff, strerror(errno));
}

/*
 * Fetch chunk c for a fault at page offset poff, with retries and backoff.
 * The faulting page is requested first and installed as soon as it arrives
 * (the faulting thread resumes), while the whole chunk follows on the same
 * connection. Returns 0 with the chunk in hb->chunk, or -1 after uffd_fatal.
 */
static int fetch_demand(struct uffd *u, struct hbuf *hb, uint64_t c, uint64_t poff, int page_wp)
{
	uint64_t off = c * u->chunk, len = uffd_run_len(u, c, 1);
	struct err e = {0};
	for (unsigned attempt = 0; attempt < u->cfg.retries; attempt++) {
		err_clear(&e);
		struct dreq *dp = NULL, *dc;
		if (len > UFFD_PAGE && u->cfg.page_first)
			dp = dreq_submit(u, 1, hb->page, UFFD_PAGE, poff, &e);
		dc = dreq_submit(u, 0, hb->chunk, len, off, &e);
		int rc = -1;
		if (dp) {
			int rp = dreq_wait(u, dp, &e);
			if (rp == -2) {
				hb->page = NULL;
				demand_timeout(u, UFFD_PAGE, poff);
				return -1;
			}
			if (rp == 0)
				install_page(u, hb->page, poff, page_wp);
		}
		if (dc) {
			rc = dreq_wait(u, dc, &e);
			if (rc == -2) {
				hb->chunk = NULL;
				demand_timeout(u, len, off);
				return -1;
			}
		}
		if (rc == 0)
			return 0;
		if (atomic_load(&u->stopping))
			return -1;
		log_debug("uffd: demand read at %" PRIu64 " failed (attempt %u): %s", off, attempt + 1, e.msg);
		uffd_nap(u, RETRY_BACKOFF_NS << attempt);
	}
	uffd_fatal(u, "fetching %" PRIu64 " bytes at offset %" PRIu64 " from the remote failed after %u attempts: %s",
		   len, off, u->cfg.retries, e.msg);
	return -1;
}

/* A fault on a chunk the background is fetching: fetch just its page on the
 * demand connection; whichever UFFDIO_COPY comes first wakes the thread. */
static void overtake(struct uffd *u, struct hbuf *hb, uint64_t poff)
{
	struct err e = {0};
	struct dreq *d = dreq_submit(u, 1, hb->page, UFFD_PAGE, poff, &e);
	if (!d)
		return; /* the background fetch still wakes us (or fails and re-faults) */
	int rc = dreq_wait(u, d, &e);
	if (rc == -2) {
		hb->page = NULL;
		demand_timeout(u, UFFD_PAGE, poff);
		return;
	}
	if (rc == 0 && atomic_load(&u->state[poff / u->chunk]) != CH_PRESENT)
		install_page(u, hb->page, poff, u->cfg.wp);
	atomic_fetch_add(&u->overtakes, 1);
}

/* ---- readahead hints -------------------------------------------------------- */

/* Note a missing fault at chunk c: grow or reset the readahead window. */
static void note_fault(struct uffd *u, uint64_t c)
{
	atomic_store(&u->follow_pos, c + 1);
	if (!(u->cfg.prefetch & PF_READAHEAD))
		return;
	uint64_t last = atomic_exchange(&u->last_fault, c);
	uint64_t win = atomic_load(&u->ra_win);
	if (c > last && c <= last + (win ? win : 1)) {
		uint64_t init = u->cfg.batch / u->chunk;
		win = win ? win * 2 : (init ? init : 1);
		if (win > u->ra_max)
			win = u->ra_max;
	} else if (c != last) {
		win = 0;
	}
	atomic_store(&u->ra_win, win);
	if (!win)
		return;
	uint64_t end = c + 1 + win > u->nchunks ? u->nchunks : c + 1 + win;
	uint64_t next = atomic_load(&u->ra_next);
	if (next < c + 1 || next > end)
		atomic_store(&u->ra_next, c + 1);
	atomic_store(&u->ra_end, end);
	pthread_mutex_lock(&u->pull_lock);
	pthread_cond_signal(&u->pull_cond);
	pthread_mutex_unlock(&u->pull_lock);
}

/* ---- fault handling --------------------------------------------------------- */

/* A write to a write-protected present page: mark its chunk dirty, unprotect, wake. */
static void handle_wp(struct uffd *u, uint64_t c)
{
	pthread_mutex_t *l = uffd_lock(u, c);
	pthread_mutex_lock(l);
	if (!atomic_exchange(&u->dirty[c], 1))
		uffd_count(&u->r->chunks_dirty, 1);
	struct uffdio_writeprotect wp = {.range = {u->base + c * u->chunk, uffd_run_len(u, c, 1)}, .mode = 0};
	int rc = ioctl(u->uffd, UFFDIO_WRITEPROTECT, &wp);
	int en = errno;
	pthread_mutex_unlock(l);
	atomic_fetch_add(&u->wp_faults, 1);
	if (rc && en != ENOENT && en != ESRCH && !atomic_load(&u->stopping))
		uffd_fatal(u, "UFFDIO_WRITEPROTECT (unprotect) of chunk %" PRIu64 " failed: %s", c, strerror(en));
}

/* Claim chunk c for a demand fetch: 1 claimed; 0 when it is present or
 * already coming (the fault is then resolved or will be woken). */
static int claim_demand(struct uffd *u, struct hbuf *hb, uint64_t c, uint64_t poff)
{
	for (;;) {
		unsigned char st = atomic_load(&u->state[c]);
		if (st == CH_PRESENT) {
			uffd_wake_range(u, poff, UFFD_PAGE);
			return 0;
		}
		if (st == CH_INFLIGHT || st == CH_INFLIGHT_BG) {
			/* Its UFFDIO_COPY (or the revert after a failure) wakes us. */
			atomic_fetch_add(&u->faults_waited, 1);
			note_fault(u, c);
			if (st == CH_INFLIGHT_BG && u->cfg.overtake)
				overtake(u, hb, poff);
			return 0;
		}
		unsigned char exp = CH_ABSENT;
		if (atomic_compare_exchange_strong(&u->state[c], &exp, CH_INFLIGHT))
			return 1;
	}
}

/* A missing page: fetch its chunk (unless already coming) and install it. */
static void handle_missing(struct uffd *u, uint64_t off, int is_write, struct hbuf *hb)
{
	uint64_t c = off / u->chunk, poff = off & ~(uint64_t)(UFFD_PAGE - 1);
	uffd_count(&u->r->faults, 1);
	if (!hb->chunk) /* abandoned after a timeout */
		hb->chunk = aligned_alloc(UFFD_PAGE, u->chunk);
	if (!hb->page)
		hb->page = aligned_alloc(UFFD_PAGE, UFFD_PAGE);
	if (!hb->chunk || !hb->page) {
		uffd_fatal(u, "out of memory for fault buffers");
		return;
	}
	if (!claim_demand(u, hb, c, poff))
		return;
	atomic_fetch_sub(&u->nabsent, 1);
	note_fault(u, c);
	int dirty = is_write && u->cfg.wp;
	if (fetch_demand(u, hb, c, poff, u->cfg.wp && !dirty))
		return; /* the run fails; the waiter is killed by the harness */
	if (uffd_copy_in(u, hb->chunk, c * u->chunk, uffd_run_len(u, c, 1), u->cfg.wp && !dirty)) {
		int en = errno;
		if (en != ESRCH && en != ENOENT && !atomic_load(&u->stopping))
			uffd_fatal(u, "UFFDIO_COPY of chunk %" PRIu64 " failed: %s", c, strerror(en));
		return;
	}
	uffd_count_pulled(u, c, 1);
	uffd_mark_present(u, c, 1, dirty);
	atomic_fetch_add(&u->faults_fetched, 1);
	if (!atomic_load(&u->first_fault_done)) {
		atomic_store(&u->first_fault_done, 1);
		pthread_mutex_lock(&u->pull_lock);
		pthread_cond_broadcast(&u->pull_cond);
		pthread_mutex_unlock(&u->pull_lock);
	}
}

/* Resolve one message read from the userfaultfd. */
static void handle_msg(struct uffd *u, const struct uffd_msg *m, struct hbuf *hb)
{
	if (m->event != UFFD_EVENT_PAGEFAULT)
		return;
	uint64_t addr = m->arg.pagefault.address & ~(uint64_t)(UFFD_PAGE - 1);
	if (addr < u->base || addr >= u->base + u->size)
		return;
	uint64_t off = addr - u->base;
	if (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)
		handle_wp(u, off / u->chunk);
	else
		handle_missing(u, off, (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0, hb);
}

/* Handler thread: read fault messages from the userfaultfd and resolve them. */
void *uffd_handler_main(void *arg)
{
	struct uffd *u = arg;
	/* Buffers now (touched), not in the first fault: this thread's malloc arena and page faults. */
	struct hbuf hb = {aligned_alloc(UFFD_PAGE, u->chunk), aligned_alloc(UFFD_PAGE, UFFD_PAGE)};
	if (hb.chunk)
		memset(hb.chunk, 0, u->chunk);
	if (hb.page)
		memset(hb.page, 0, UFFD_PAGE);
	struct uffd_msg msgs[FAULT_MSG_BATCH];
	while (!atomic_load(&u->stopping)) {
		struct pollfd p[2] = {{u->uffd, POLLIN, 0}, {u->stop_fd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			uffd_fatal(u, "poll on the userfaultfd: %s", strerror(errno));
			break;
		}
		if (p[1].revents || atomic_load(&u->stopping))
			break;
		if (p[0].revents & (POLLERR | POLLHUP))
			break;
		ssize_t n = read(u->uffd, msgs, sizeof msgs);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			uffd_fatal(u, "read from the userfaultfd: %s", strerror(errno));
			break;
		}
		for (size_t i = 0; i < (size_t)n / sizeof msgs[0]; i++)
			handle_msg(u, &msgs[i], &hb);
	}
	free(hb.chunk);
	free(hb.page);
	return NULL;
}

/*
 * Warm the demand path before the workload runs: two page reads on each
 * demand connection. The first fault otherwise pays for cold code (libnbd's
 * request path, the server's connection thread) and a fresh TCP connection:
 * measured 0.5-1 ms at local, 0.2-0.5 ms at wan. Errors are left to the
 * faults themselves.
 */
void uffd_warm_demand(struct uffd *u)
{
	unsigned char *b = aligned_alloc(UFFD_PAGE, UFFD_PAGE);
	for (int page = 0; page < 2 && b; page++) {
		if (page && !u->pg)
			break;
		for (int k = 0; k < WARM_READS && b; k++) {
			struct err e = {0};
			struct dreq *d = dreq_submit(u, page, b, UFFD_PAGE, 0, &e);
			if (d && dreq_wait(u, d, &e) == -2)
				return; /* abandoned with its buffer (see dreq_wait) */
		}
	}
	free(b);
}
