/*
 * uffd.c - the `uffd` approach: an anonymous region filled on first touch
 * through userfaultfd, from a remote copy served over NBD.
 *
 * The workload registers its anonymous mapping (MISSING, plus WP with write
 * tracking) and hands the userfaultfd to the local process, where handler
 * threads resolve faults:
 *   - fault-around: a fault fetches and installs its whole chunk (option
 *     chunk, 4 KiB .. 1 MiB) with one UFFDIO_COPY;
 *   - readahead: sequential faults grow a window the background puller
 *     fills ahead of the workload;
 *   - background pull: one puller thread keeps many chunk runs in flight on
 *     their own connections (libnbd, asynchronous), in a priority order;
 *   - write tracking: pages are installed write-protected, the first write
 *     to a chunk marks it dirty and unprotects it; sync() re-protects dirty
 *     chunks, reads them from the workload (process_vm_readv) and writes
 *     them to the remote asynchronously;
 *   - post-copy migration (uffd_migrate.c);
 *   - handler=inprocess (uffd_inproc.c): the same threads in the workload
 *     process, dirty chunks read with memcpy.
 * Every chunk has one state byte (absent / in flight / present) changed
 * with compare-and-swap, so demand faults and the puller never fetch a
 * chunk twice; a fault on a chunk in flight waits for that fetch's
 * UFFDIO_COPY, which wakes every waiter on the range.
 */
#include "uffd_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "log.h"
#include "nbd_server.h"
#include "units.h"

static const struct approach_opt uffd_options[] = {
	{"chunk", "64k", "fault-around: bytes fetched and installed per fault (4k .. 1m, multiple of 4k)"},
	{"threads", "1", "fault handler threads reading the userfaultfd (1 .. 64)"},
	{"prefetch", "both", "off | readahead (follow sequential faults) | background (pull everything) | both"},
	{"pullers", "2", "connections used by the background puller and the push"},
	{"inflight", "16", "background requests in flight (pull and push)"},
	{"batch", "1m", "bytes per background request (runs of absent chunks coalesced; >= chunk)"},
	{"readahead", "8m", "largest readahead window in bytes"},
	{"order", "linear", "background order: linear | follow (from the latest fault on) | header-first | list:FILE"},
	{"wp", "on", "write tracking with write-protect mode (off: reads only, writes never reach the remote)"},
	{"push_interval", "0", "also push dirty chunks every this long (0 = only at sync)"},
	{"timeout", "10s", "a remote request unanswered this long fails the scenario"},
	{"retries", "3", "attempts for a failed demand fetch (with backoff) before the scenario fails"},
	{"page_first", "on", "a fault requests its own page first, installs it, then the rest of its chunk"},
	{"overtake", "on", "a fault on a chunk the background is fetching fetches its page on the demand connection"},
	{"bg_start", "fault", "start the background pull at the first fault (fault) or at attach (attach)"},
	{"mig_port_offset", "1", "migration: the source serves the destination on the remote port + this"},
	{"handler", "process", "where the handler threads run: process (the local process; the workload hands over the "
			       "userfaultfd with SCM_RIGHTS) | inprocess (threads in the workload process; not with --migrate)"},
	{NULL, NULL, NULL},
};

/* ---- errors ---------------------------------------------------------- */

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
	pthread_mutex_lock(&u->push_lock);
	pthread_cond_broadcast(&u->push_cond);
	pthread_mutex_unlock(&u->push_lock);
	pthread_mutex_lock(&u->conn_lock);
	pthread_cond_broadcast(&u->conn_cond);
	pthread_mutex_unlock(&u->conn_lock);
	if (u->r && u->r->report_fatal)
		u->r->report_fatal(u->r, u->fatal.msg);
}

/* ---- small helpers ------------------------------------------------------ */

/* Sleep ms milliseconds in 10 ms steps unless stopping. */
static void nap_ms(struct uffd *u, unsigned ms)
{
	for (unsigned i = 0; i < ms && !atomic_load(&u->stopping); i += 10) {
		struct timespec ts = {0, (ms - i < 10 ? ms - i : 10) * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* Bytes in chunks [c0, c0 + n). */
uint64_t uffd_run_len(const struct uffd *u, uint64_t c0, uint64_t n)
{
	uint64_t off = c0 * u->chunk, end = (c0 + n) * u->chunk;
	return (end > u->size ? u->size : end) - off;
}

/* Wake every thread waiting on a fault in [off, off + len). */
static void wake_range(struct uffd *u, uint64_t off, uint64_t len)
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
		if ((en == EAGAIN || en == EINTR) && ++again < 100000) {
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
		wake_range(u, off, len);
	atomic_fetch_add(&u->copies, 1);
	return 0;
}

/* Add to one of the region's counters (read by the harness thread). */
static void count(uint64_t *field, uint64_t v)
{
	__atomic_fetch_add(field, v, __ATOMIC_RELAXED);
}

/* Mark chunks [c0, c0 + n) present after their data was installed. */
static void mark_present(struct uffd *u, uint64_t c0, uint64_t n, int dirty)
{
	for (uint64_t c = c0; c < c0 + n; c++) {
		if (dirty) {
			pthread_mutex_t *l = uffd_lock(u, c);
			pthread_mutex_lock(l);
			if (!atomic_exchange(&u->dirty[c], 1))
				count(&u->r->chunks_dirty, 1);
			atomic_store(&u->state[c], CH_PRESENT);
			pthread_mutex_unlock(l);
		} else {
			atomic_store(&u->state[c], CH_PRESENT);
		}
	}
	atomic_fetch_add(&u->npresent, n);
	count(&u->r->bytes_pulled, uffd_run_len(u, c0, n));
}

/* Put chunks [c0, c0 + n) back to absent (a fetch failed) and wake their waiters. */
static void mark_absent(struct uffd *u, uint64_t c0, uint64_t n)
{
	for (uint64_t c = c0; c < c0 + n; c++)
		atomic_store(&u->state[c], CH_ABSENT);
	atomic_fetch_add(&u->nabsent, n);
	wake_range(u, c0 * u->chunk, uffd_run_len(u, c0, n));
	pthread_cond_broadcast(&u->pull_cond);
}

/* ---- request slots (background reads and pushes) ------------------------- */

/* Take a free slot, waiting for one; NULL when stopping. */
static struct uffd_slot *slot_get(struct uffd *u)
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

/* Return a slot to the pool. */
static void slot_put(struct uffd *u, struct uffd_slot *s)
{
	atomic_store(&s->t_submit, 0);
	pthread_mutex_lock(&u->pool_lock);
	s->next = u->free_slots;
	u->free_slots = s;
	pthread_cond_signal(&u->pool_cond);
	pthread_mutex_unlock(&u->pool_lock);
}

/* ---- demand fetch ------------------------------------------------------- */

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

/* Submit a read on the demand connection; NULL on error (in e). */
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
	clock_gettime(CLOCK_MONOTONIC, &dl);
	uint64_t ns = (uint64_t)dl.tv_nsec + u->cfg.timeout_ns;
	dl.tv_sec += (time_t)(ns / 1000000000ull);
	dl.tv_nsec = (long)(ns % 1000000000ull);
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
		int rp = 0, rc = -1;
		if (dp) {
			rp = dreq_wait(u, dp, &e);
			if (rp == -2) {
				hb->page = NULL;
				demand_timeout(u, UFFD_PAGE, poff);
				return -1;
			}
			if (rp == 0 && uffd_copy_in(u, hb->page, poff, UFFD_PAGE, page_wp) && errno != ESRCH &&
			    errno != ENOENT && !atomic_load(&u->stopping))
				uffd_fatal(u, "UFFDIO_COPY of page %" PRIu64 " failed: %s", poff, strerror(errno));
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
		nap_ms(u, 100u << attempt);
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
	if (rc == 0 && atomic_load(&u->state[poff / u->chunk]) != CH_PRESENT &&
	    uffd_copy_in(u, hb->page, poff, UFFD_PAGE, u->cfg.wp) && errno != ESRCH && errno != ENOENT &&
	    !atomic_load(&u->stopping))
		uffd_fatal(u, "UFFDIO_COPY of page %" PRIu64 " failed: %s", poff, strerror(errno));
	atomic_fetch_add(&u->overtakes, 1);
}

/* ---- readahead hints ------------------------------------------------------ */

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

/* ---- fault handling ------------------------------------------------------- */

/* A write to a write-protected present page: mark its chunk dirty, unprotect, wake. */
static void handle_wp(struct uffd *u, uint64_t c)
{
	pthread_mutex_t *l = uffd_lock(u, c);
	pthread_mutex_lock(l);
	if (!atomic_exchange(&u->dirty[c], 1))
		count(&u->r->chunks_dirty, 1);
	struct uffdio_writeprotect wp = {.range = {u->base + c * u->chunk, uffd_run_len(u, c, 1)}, .mode = 0};
	int rc = ioctl(u->uffd, UFFDIO_WRITEPROTECT, &wp);
	int en = errno;
	pthread_mutex_unlock(l);
	atomic_fetch_add(&u->wp_faults, 1);
	if (rc && en != ENOENT && en != ESRCH && !atomic_load(&u->stopping))
		uffd_fatal(u, "UFFDIO_WRITEPROTECT (unprotect) of chunk %" PRIu64 " failed: %s", c, strerror(en));
}

/* A missing page: fetch its chunk (unless already coming) and install it. */
static void handle_missing(struct uffd *u, uint64_t off, int is_write, struct hbuf *hb)
{
	uint64_t c = off / u->chunk, poff = off & ~(uint64_t)(UFFD_PAGE - 1);
	count(&u->r->faults, 1);
	if (!hb->chunk)
		hb->chunk = aligned_alloc(UFFD_PAGE, u->chunk);
	if (!hb->page)
		hb->page = aligned_alloc(UFFD_PAGE, UFFD_PAGE);
	if (!hb->chunk || !hb->page) {
		uffd_fatal(u, "out of memory for fault buffers");
		return;
	}
	for (;;) {
		unsigned char st = atomic_load(&u->state[c]);
		if (st == CH_PRESENT) {
			wake_range(u, poff, UFFD_PAGE);
			return;
		}
		if (st == CH_INFLIGHT || st == CH_INFLIGHT_BG) {
			/* Its UFFDIO_COPY (or the revert after a failure) wakes us. */
			atomic_fetch_add(&u->faults_waited, 1);
			note_fault(u, c);
			if (st == CH_INFLIGHT_BG && u->cfg.overtake)
				overtake(u, hb, poff);
			return;
		}
		unsigned char exp = CH_ABSENT;
		if (atomic_compare_exchange_strong(&u->state[c], &exp, CH_INFLIGHT))
			break;
	}
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
	mark_present(u, c, 1, dirty);
	atomic_fetch_add(&u->faults_fetched, 1);
	if (!atomic_load(&u->first_fault_done)) {
		atomic_store(&u->first_fault_done, 1);
		pthread_mutex_lock(&u->pull_lock);
		pthread_cond_broadcast(&u->pull_cond);
		pthread_mutex_unlock(&u->pull_lock);
	}
}

/* Handler thread: read fault messages from the userfaultfd and resolve them. */
static void *handler_main(void *arg)
{
	struct uffd *u = arg;
	/* Buffers now (touched), not in the first fault: this thread's malloc arena and page faults. */
	struct hbuf hb = {aligned_alloc(UFFD_PAGE, u->chunk), aligned_alloc(UFFD_PAGE, UFFD_PAGE)};
	if (hb.chunk)
		memset(hb.chunk, 0, u->chunk);
	if (hb.page)
		memset(hb.page, 0, UFFD_PAGE);
	struct uffd_msg msgs[16];
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
		for (size_t i = 0; i < (size_t)n / sizeof msgs[0]; i++) {
			struct uffd_msg *m = &msgs[i];
			if (m->event != UFFD_EVENT_PAGEFAULT)
				continue;
			uint64_t addr = m->arg.pagefault.address & ~(uint64_t)(UFFD_PAGE - 1);
			if (addr < u->base || addr >= u->base + u->size)
				continue;
			uint64_t off = addr - u->base;
			if (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)
				handle_wp(u, off / u->chunk);
			else
				handle_missing(u, off, (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0, &hb);
		}
	}
	free(hb.chunk);
	free(hb.page);
	return NULL;
}

/* ---- background puller ------------------------------------------------------ */

/* Claim chunk c (if absent) and the absent chunks after it, up to max; returns the count. */
static uint64_t claim_run(struct uffd *u, uint64_t c, uint64_t max)
{
	uint64_t n = 0;
	while (n < max && c + n < u->nchunks) {
		unsigned char exp = CH_ABSENT;
		if (!atomic_compare_exchange_strong(&u->state[c + n], &exp, CH_INFLIGHT_BG))
			break;
		n++;
	}
	if (n)
		atomic_fetch_sub(&u->nabsent, n);
	return n;
}

/* Pick the next run to pull: readahead hints first, then the order. */
static uint64_t next_run(struct uffd *u, uint64_t *c0)
{
	uint64_t max = u->cfg.batch / u->chunk, n;
	if (max < 1)
		max = 1;
	if (u->cfg.prefetch & PF_READAHEAD) {
		for (uint64_t h; (h = atomic_load(&u->ra_next)) < atomic_load(&u->ra_end);) {
			uint64_t lim = atomic_load(&u->ra_end) - h;
			if (!atomic_compare_exchange_strong(&u->ra_next, &h, h + 1))
				continue;
			if ((n = claim_run(u, h, lim < max ? lim : max))) {
				uint64_t exp = h + 1;
				atomic_compare_exchange_strong(&u->ra_next, &exp, h + n);
				*c0 = h;
				return n;
			}
		}
	}
	if (!(u->cfg.prefetch & PF_BACKGROUND) || atomic_load(&u->nabsent) == 0 || atomic_load(&u->pull_paused))
		return 0;
	while (u->list_pos < u->nlist) {
		uint64_t c = u->list[u->list_pos++];
		if (c < u->nchunks && (n = claim_run(u, c, max))) {
			*c0 = c;
			return n;
		}
	}
	if (u->cfg.order == ORD_FOLLOW || u->cfg.order == ORD_HEADER_FIRST) {
		uint64_t f = atomic_load(&u->follow_pos);
		if (f != u->follow_seen) {
			u->follow_seen = f;
			u->cursor = f < u->nchunks ? f : 0;
		}
	}
	for (uint64_t steps = 0; steps < u->nchunks; steps++) {
		uint64_t c = u->cursor;
		u->cursor = c + 1 < u->nchunks ? c + 1 : 0;
		if (atomic_load(&u->state[c]) != CH_ABSENT)
			continue;
		if ((n = claim_run(u, c, max))) {
			*c0 = c;
			u->cursor = c + n < u->nchunks ? c + n : 0;
			return n;
		}
	}
	return 0;
}

/* Completion of a background read (poller thread): install the run. */
static void pull_done(void *arg, int error)
{
	struct uffd_slot *s = arg;
	struct uffd *u = s->u;
	uint64_t off = s->c0 * u->chunk, len = uffd_run_len(u, s->c0, s->n);
	if (error) {
		atomic_fetch_add(&u->bg_errors, 1);
		mark_absent(u, s->c0, s->n);
	} else if (uffd_copy_in(u, s->buf, off, len, u->cfg.wp)) {
		int en = errno;
		mark_absent(u, s->c0, s->n);
		if (en != ESRCH && en != ENOENT && !atomic_load(&u->stopping))
			uffd_fatal(u, "UFFDIO_COPY of %" PRIu64 " bytes at offset %" PRIu64 " failed: %s", len, off,
				   strerror(en));
	} else {
		mark_present(u, s->c0, s->n, 0);
		atomic_fetch_add(&u->bg_reads, 1);
	}
	slot_put(u, s);
}

/* The puller thread: keep background reads in flight until everything is present. */
static void *puller_main(void *arg)
{
	struct uffd *u = arg;
	struct err e = {0};
	if (u->dest && uffd_connect_dest(u, &e))
		return NULL;
	if (u->dest)
		uffd_dest_warm(u);
	if (u->dest || u->cfg.bg_after_fault) {
		/* Serve the first fault alone (post-copy: the workload resumes), then
		 * pull the rest: a fresh link is not yet queued full of prefetch. */
		pthread_mutex_lock(&u->pull_lock);
		while (!atomic_load(&u->first_fault_done) && !atomic_load(&u->stopping))
			pthread_cond_wait(&u->pull_cond, &u->pull_lock);
		pthread_mutex_unlock(&u->pull_lock);
	}
	while (!atomic_load(&u->stopping)) {
		struct uffd_slot *s = slot_get(u);
		if (!s)
			break;
		uint64_t c0 = 0, n = next_run(u, &c0);
		if (!n) {
			slot_put(u, s);
			if (!(u->cfg.prefetch & PF_READAHEAD) && atomic_load(&u->nabsent) == 0)
				break;
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += 20000000;
			if (dl.tv_nsec >= 1000000000) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000;
			}
			pthread_mutex_lock(&u->pull_lock);
			if (!atomic_load(&u->stopping))
				pthread_cond_timedwait(&u->pull_cond, &u->pull_lock, &dl);
			pthread_mutex_unlock(&u->pull_lock);
			continue;
		}
		s->c0 = c0;
		s->n = n;
		atomic_store(&s->t_submit, now_ns());
		err_clear(&e);
		if (remote_aio_pread(u->bg, s->buf, uffd_run_len(u, c0, n), c0 * u->chunk, pull_done, s, &e)) {
			atomic_fetch_add(&u->bg_errors, 1);
			mark_absent(u, c0, n);
			slot_put(u, s);
			log_debug("uffd: background read failed: %s", e.msg);
			nap_ms(u, 100);
		}
	}
	return NULL;
}

/* ---- push of dirty chunks --------------------------------------------------- */

/* Completion of a push write (poller thread). */
static void push_done(void *arg, int error)
{
	struct uffd_slot *s = arg;
	struct uffd *u = s->u;
	if (error) {
		atomic_store(&u->push_error, error);
		/* Dirty again, so a later sync retries it. */
		for (uint64_t c = s->c0; c < s->c0 + s->n; c++)
			atomic_store(&u->dirty[c], 1);
	} else {
		count(&u->r->bytes_pushed, uffd_run_len(u, s->c0, s->n));
	}
	pthread_mutex_lock(&u->push_lock);
	u->push_pending--;
	pthread_cond_broadcast(&u->push_cond);
	pthread_mutex_unlock(&u->push_lock);
	slot_put(u, s);
}

/* Clear chunk c's dirty flag and write-protect it again; 1 if it was dirty. */
static int take_dirty(struct uffd *u, uint64_t c, struct err *e)
{
	if (!atomic_load(&u->dirty[c]))
		return 0;
	/* Dirty implies installed; the state store may lag the copy by a moment. */
	uint64_t t0 = now_ns();
	while (atomic_load(&u->state[c]) != CH_PRESENT) {
		if (now_ns() - t0 > u->cfg.timeout_ns)
			return err_set(e, "dirty chunk %" PRIu64 " never became present", c);
		sched_yield();
	}
	pthread_mutex_t *l = uffd_lock(u, c);
	pthread_mutex_lock(l);
	int was = atomic_exchange(&u->dirty[c], 0);
	int rc = 0, en = 0;
	if (was) {
		struct uffdio_writeprotect wp = {.range = {u->base + c * u->chunk, uffd_run_len(u, c, 1)},
						 .mode = UFFDIO_WRITEPROTECT_MODE_WP};
		rc = ioctl(u->uffd, UFFDIO_WRITEPROTECT, &wp);
		en = errno;
	}
	pthread_mutex_unlock(l);
	if (rc)
		return err_errno(e, en, "UFFDIO_WRITEPROTECT of chunk %" PRIu64, c);
	return was;
}

/* Push every dirty chunk to the remote and wait for the writes. */
static int push_dirty(struct uffd *u, struct err *e)
{
	if (!u->cfg.wp || !u->bg)
		return 0;
	pthread_mutex_lock(&u->sync_lock);
	int rc = 0;
	uint64_t max = u->cfg.batch / u->chunk;
	if (max < 1)
		max = 1;
	for (uint64_t c = 0; c < u->nchunks && !rc;) {
		int d = take_dirty(u, c, e);
		if (d < 0) {
			rc = -1;
			break;
		}
		if (!d) {
			c++;
			continue;
		}
		uint64_t n = 1;
		while (n < max && c + n < u->nchunks) {
			int d2 = take_dirty(u, c + n, e);
			if (d2 < 0) {
				rc = -1;
				break;
			}
			if (!d2)
				break;
			n++;
		}
		if (rc)
			break;
		struct uffd_slot *s = slot_get(u);
		if (!s) {
			rc = err_set(e, "stopping");
			break;
		}
		s->c0 = c;
		s->n = n;
		uint64_t off = c * u->chunk, len = uffd_run_len(u, c, n);
		struct iovec lv = {s->buf, len}, rv = {(void *)(uintptr_t)(u->base + off), len};
		ssize_t got = (ssize_t)len;
		if (u->cfg.inproc) /* our own memory; dirty chunks are present */
			memcpy(s->buf, (const void *)(uintptr_t)(u->base + off), len);
		else
			got = process_vm_readv(u->r->workload_pid, &lv, 1, &rv, 1, 0);
		if (got != (ssize_t)len) {
			rc = err_errno(e, got < 0 ? errno : EIO, "reading %" PRIu64 " dirty bytes at offset %" PRIu64
				       " from the workload (pid %d)", len, off, u->r->workload_pid);
			slot_put(u, s);
			break;
		}
		pthread_mutex_lock(&u->push_lock);
		u->push_pending++;
		pthread_mutex_unlock(&u->push_lock);
		atomic_store(&s->t_submit, now_ns());
		if (remote_aio_pwrite(u->bg, s->buf, len, off, push_done, s, e)) {
			pthread_mutex_lock(&u->push_lock);
			u->push_pending--;
			pthread_mutex_unlock(&u->push_lock);
			slot_put(u, s);
			rc = -1;
			break;
		}
		c += n;
	}
	/* Wait for every write, bounded by the timeout (the watchdog reports a hang). */
	pthread_mutex_lock(&u->push_lock);
	while (u->push_pending > 0 && !atomic_load(&u->failed))
		pthread_cond_wait(&u->push_cond, &u->push_lock);
	pthread_mutex_unlock(&u->push_lock);
	int perr = atomic_exchange(&u->push_error, 0);
	if (!rc && perr)
		rc = err_errno(e, perr, "writing dirty chunks to the remote %s failed", u->uri);
	if (!rc && atomic_load(&u->failed)) {
		pthread_mutex_lock(&u->err_lock);
		rc = err_set(e, "%s", u->fatal.msg);
		pthread_mutex_unlock(&u->err_lock);
	}
	pthread_mutex_unlock(&u->sync_lock);
	return rc;
}

/* Pusher thread: push dirty chunks every push_interval. */
static void *pusher_main(void *arg)
{
	struct uffd *u = arg;
	while (!atomic_load(&u->stopping)) {
		nap_ms(u, (unsigned)(u->cfg.push_interval_ns / 1000000ull));
		if (atomic_load(&u->stopping))
			break;
		struct err e = {0};
		if (push_dirty(u, &e) && !atomic_load(&u->stopping))
			uffd_fatal(u, "periodic push: %s", e.msg);
	}
	return NULL;
}

/* Watchdog thread: a background request unanswered for the timeout fails the run. */
static void *watchdog_main(void *arg)
{
	struct uffd *u = arg;
	while (!atomic_load(&u->stopping) && !atomic_load(&u->failed)) {
		nap_ms(u, 200);
		uint64_t now = now_ns();
		for (unsigned i = 0; i < u->nslots; i++) {
			uint64_t t = atomic_load(&u->slots[i].t_submit);
			if (t && now > t && now - t > u->cfg.timeout_ns) {
				uffd_fatal(u, "remote %s did not answer a background request (offset %" PRIu64
					   ") within %.1f s (remote down or link dropped)",
					   u->uri, u->slots[i].c0 * u->chunk, (double)u->cfg.timeout_ns / 1e9);
				break;
			}
		}
	}
	return NULL;
}

/* ---- options and setup ------------------------------------------------------- */

/* An on/off option. */
static int parse_onoff(const struct scenario *sc, const char *key, int def, int *out, struct err *e)
{
	const char *v = scenario_opt(sc, key, def ? "on" : "off");
	if (!strcmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else
		return err_set(e, "option %s=%s: expected on or off", key, v);
	return 0;
}

/* Parse the -o options into u->cfg. */
int uffd_parse_cfg(const struct scenario *sc, struct uffd_cfg *c, struct err *e)
{
	uint64_t v;
	if (scenario_opt_size(sc, "chunk", 64 << 10, &c->chunk, e))
		return -1;
	if (c->chunk < UFFD_PAGE || c->chunk > (1u << 20) || c->chunk % UFFD_PAGE)
		return err_set(e, "option chunk=%s: must be a multiple of 4k between 4k and 1m",
			       scenario_opt(sc, "chunk", "?"));
	if (scenario_opt_uint(sc, "threads", 1, &v, e))
		return -1;
	if (v < 1 || v > UFFD_MAX_THREADS)
		return err_set(e, "option threads=%" PRIu64 ": must be 1 .. %d", v, UFFD_MAX_THREADS);
	c->threads = (unsigned)v;
	const char *pf = scenario_opt(sc, "prefetch", "both");
	if (!strcmp(pf, "off"))
		c->prefetch = PF_OFF;
	else if (!strcmp(pf, "readahead"))
		c->prefetch = PF_READAHEAD;
	else if (!strcmp(pf, "background"))
		c->prefetch = PF_BACKGROUND;
	else if (!strcmp(pf, "both"))
		c->prefetch = PF_READAHEAD | PF_BACKGROUND;
	else
		return err_set(e, "option prefetch=%s: expected off, readahead, background or both", pf);
	if (scenario_opt_uint(sc, "pullers", 2, &v, e))
		return -1;
	if (v < 1 || v > 64)
		return err_set(e, "option pullers=%" PRIu64 ": must be 1 .. 64", v);
	c->pullers = (unsigned)v;
	if (scenario_opt_uint(sc, "inflight", 16, &v, e))
		return -1;
	if (v < 1 || v > 4096)
		return err_set(e, "option inflight=%" PRIu64 ": must be 1 .. 4096", v);
	c->inflight = (unsigned)v;
	if (scenario_opt_size(sc, "batch", 1 << 20, &c->batch, e))
		return -1;
	if (c->batch > (32u << 20))
		return err_set(e, "option batch: at most 32m");
	if (c->batch < c->chunk)
		c->batch = c->chunk;
	if (scenario_opt_size(sc, "readahead", 8 << 20, &c->readahead, e))
		return -1;
	const char *o = scenario_opt(sc, "order", "linear");
	if (!strcmp(o, "linear"))
		c->order = ORD_LINEAR;
	else if (!strcmp(o, "follow"))
		c->order = ORD_FOLLOW;
	else if (!strcmp(o, "header-first"))
		c->order = ORD_HEADER_FIRST;
	else if (!strncmp(o, "list:", 5) && o[5]) {
		c->order = ORD_LIST;
		snprintf(c->list_path, sizeof c->list_path, "%s", o + 5);
	} else
		return err_set(e, "option order=%s: expected linear, follow, header-first or list:FILE", o);
	if (parse_onoff(sc, "wp", 1, &c->wp, e))
		return -1;
	struct err sub = {0};
	const char *pi = scenario_opt(sc, "push_interval", "0");
	if (parse_duration_ns(pi, &c->push_interval_ns, &sub))
		return err_set(e, "option push_interval=%s: %s", pi, sub.msg);
	const char *to = scenario_opt(sc, "timeout", "10s");
	if (parse_duration_ns(to, &c->timeout_ns, &sub) || c->timeout_ns == 0)
		return err_set(e, "option timeout=%s: %s", to, sub.set ? sub.msg : "must be positive");
	if (scenario_opt_uint(sc, "retries", 3, &v, e))
		return -1;
	c->retries = v < 1 ? 1 : v > 20 ? 20 : (unsigned)v;
	if (parse_onoff(sc, "page_first", 1, &c->page_first, e) || parse_onoff(sc, "overtake", 1, &c->overtake, e))
		return -1;
	const char *bs = scenario_opt(sc, "bg_start", "fault");
	if (!strcmp(bs, "fault"))
		c->bg_after_fault = 1;
	else if (!strcmp(bs, "attach"))
		c->bg_after_fault = 0;
	else
		return err_set(e, "option bg_start=%s: expected fault or attach", bs);
	if (scenario_opt_uint(sc, "mig_port_offset", 1, &v, e))
		return -1;
	if (v < 1 || v > 1000)
		return err_set(e, "option mig_port_offset=%" PRIu64 ": must be 1 .. 1000", v);
	c->mig_port_offset = (int)v;
	const char *h = scenario_opt(sc, "handler", "process");
	if (!strcmp(h, "process"))
		c->inproc = 0;
	else if (!strcmp(h, "inprocess"))
		c->inproc = 1;
	else
		return err_set(e, "option handler=%s: expected process or inprocess", h);
	return 0;
}

/* Load the background order list (one byte offset per line, '#' comments). */
static int load_list(struct uffd *u, struct err *e)
{
	if (u->cfg.order == ORD_HEADER_FIRST) {
		uint64_t hdr = u->sc->wl.header_size ? u->sc->wl.header_size : 1 << 20;
		u->nlist = (hdr + u->chunk - 1) / u->chunk;
		if (u->nlist > u->nchunks)
			u->nlist = u->nchunks;
		u->list = calloc(u->nlist ? u->nlist : 1, sizeof *u->list);
		if (!u->list)
			return err_errno(e, ENOMEM, "order list");
		for (uint64_t i = 0; i < u->nlist; i++)
			u->list[i] = i;
		return 0;
	}
	if (u->cfg.order != ORD_LIST)
		return 0;
	FILE *f = fopen(u->cfg.list_path, "r");
	if (!f)
		return err_errno(e, errno, "option order=list:%s", u->cfg.list_path);
	char line[128];
	uint64_t cap = 0;
	for (int ln = 1; fgets(line, sizeof line, f); ln++) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		p[strcspn(p, " \t\r\n#")] = '\0';
		uint64_t off;
		struct err sub = {0};
		if (parse_size(p, &off, &sub) || off >= u->size) {
			fclose(f);
			return err_set(e, "%s:%d: %s", u->cfg.list_path, ln, sub.set ? sub.msg : "offset outside the region");
		}
		if (u->nlist == cap) {
			cap = cap ? cap * 2 : 256;
			uint64_t *nl = realloc(u->list, cap * sizeof *nl);
			if (!nl) {
				fclose(f);
				return err_errno(e, ENOMEM, "order list");
			}
			u->list = nl;
		}
		u->list[u->nlist++] = off / u->chunk;
	}
	fclose(f);
	return 0;
}

/* Connect the demand and background clients to uri; check the export size. */
int uffd_connect(struct uffd *u, struct err *e)
{
	struct remote_opts fo = {.uri = u->uri, .nconn = 1, .max_inflight = 2 * (int)u->cfg.threads + 2};
	struct remote *fg = remote_connect_opts(&fo, e);
	if (!fg)
		return -1;
	if (remote_size(fg) < u->size) {
		err_set(e, "region size %" PRIu64 " is larger than the remote export %s (%" PRIu64 " bytes)", u->size,
			u->uri, remote_size(fg));
		remote_close(fg);
		return -1;
	}
	struct remote_opts bo = {.uri = u->uri, .nconn = (int)u->cfg.pullers, .max_inflight = (int)u->cfg.inflight};
	struct remote *bg = remote_connect_opts(&bo, e);
	if (!bg) {
		remote_close(fg);
		return -1;
	}
	struct remote *pg = NULL;
	if (u->chunk > UFFD_PAGE && (u->cfg.page_first || u->cfg.overtake)) {
		pg = remote_connect_opts(&fo, e);
		if (!pg) {
			remote_close(fg);
			remote_close(bg);
			return -1;
		}
	}
	pthread_mutex_lock(&u->conn_lock);
	u->pg = pg;
	u->fg = fg;
	u->bg = bg;
	pthread_cond_broadcast(&u->conn_cond);
	pthread_mutex_unlock(&u->conn_lock);
	return 0;
}

/* The demand client, waiting for the connection on a migration destination. */
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

/* Allocate the state of a region of sc->size bytes. */
struct uffd *uffd_new(const struct scenario *sc, struct region *r, struct err *e)
{
	long ps = sysconf(_SC_PAGESIZE);
	if (ps != UFFD_PAGE)
		return err_set(e, "uffd: page size %ld is not supported (4096 only)", ps), NULL;
	if (!sc->size || sc->size % (uint64_t)ps)
		return err_set(e, "region size %" PRIu64 " is not a positive multiple of the page size (%ld)", sc->size,
			       ps),
		       NULL;
	struct uffd *u = calloc(1, sizeof *u);
	if (!u)
		return err_errno(e, ENOMEM, "uffd"), NULL;
	u->sc = sc;
	u->r = r;
	u->uffd = -1;
	u->stop_fd = -1;
	u->ctl_fd = -1;
	u->size = sc->size;
	pthread_mutex_init(&u->err_lock, NULL);
	pthread_mutex_init(&u->conn_lock, NULL);
	pthread_cond_init(&u->conn_cond, NULL);
	pthread_mutex_init(&u->pool_lock, NULL);
	pthread_cond_init(&u->pool_cond, NULL);
	pthread_mutex_init(&u->pull_lock, NULL);
	pthread_cond_init(&u->pull_cond, NULL);
	pthread_mutex_init(&u->push_lock, NULL);
	pthread_cond_init(&u->push_cond, NULL);
	pthread_mutex_init(&u->sync_lock, NULL);
	pthread_mutex_init(&u->sw_lock, NULL);
	pthread_cond_init(&u->sw_cond, NULL);
	for (int i = 0; i < UFFD_NLOCKS; i++)
		pthread_mutex_init(&u->locks[i], NULL);
	if (uffd_parse_cfg(sc, &u->cfg, e))
		goto fail;
	u->chunk = u->cfg.chunk;
	u->nchunks = (u->size + u->chunk - 1) / u->chunk;
	u->ra_max = u->cfg.readahead / u->chunk ? u->cfg.readahead / u->chunk : 1;
	u->state = calloc(u->nchunks, 1);
	u->dirty = calloc(u->nchunks, 1);
	if (!u->state || !u->dirty) {
		err_errno(e, ENOMEM, "uffd: chunk state for %" PRIu64 " chunks", u->nchunks);
		goto fail;
	}
	atomic_store(&u->nabsent, u->nchunks);
	atomic_store(&u->last_fault, UINT64_MAX - 1);
	if (load_list(u, e))
		goto fail;
	u->nslots = u->cfg.inflight;
	u->slots = calloc(u->nslots, sizeof *u->slots);
	if (!u->slots) {
		err_errno(e, ENOMEM, "uffd: request slots");
		goto fail;
	}
	for (unsigned i = 0; i < u->nslots; i++) {
		struct uffd_slot *s = &u->slots[i];
		s->u = u;
		s->buf = aligned_alloc(UFFD_PAGE, (u->cfg.batch + UFFD_PAGE - 1) / UFFD_PAGE * UFFD_PAGE);
		if (!s->buf) {
			err_errno(e, ENOMEM, "uffd: request buffers");
			goto fail;
		}
		s->next = u->free_slots;
		u->free_slots = s;
	}
	u->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->stop_fd < 0) {
		err_errno(e, errno, "eventfd");
		goto fail;
	}
	return u;
fail:
	uffd_free(u);
	return NULL;
}

/* Free the state (threads stopped, clients closed). */
void uffd_free(struct uffd *u)
{
	if (!u)
		return;
	for (unsigned i = 0; u->slots && i < u->nslots; i++)
		free(u->slots[i].buf);
	free(u->slots);
	free(u->state);
	free(u->dirty);
	free(u->list);
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	if (u->ctl_fd >= 0)
		close(u->ctl_fd);
	if (u->uffd >= 0)
		close(u->uffd);
	for (int i = 0; i < UFFD_NLOCKS; i++)
		pthread_mutex_destroy(&u->locks[i]);
	free(u);
}

/*
 * Warm the demand path before the workload runs: two page reads on each
 * demand connection. The first fault otherwise pays for cold code (libnbd's
 * request path, the server's connection thread) and a fresh TCP connection:
 * measured 0.5-1 ms at local, 0.2-0.5 ms at wan. Errors are left to the
 * faults themselves.
 */
static void warm_demand(struct uffd *u)
{
	unsigned char *b = aligned_alloc(UFFD_PAGE, UFFD_PAGE);
	for (int page = 0; page < 2 && b; page++) {
		if (page && !u->pg)
			break;
		for (int k = 0; k < 2 && b; k++) {
			struct err e = {0};
			struct dreq *d = dreq_submit(u, page, b, UFFD_PAGE, 0, &e);
			if (d && dreq_wait(u, d, &e) == -2)
				return; /* abandoned with its buffer (see dreq_wait) */
		}
	}
	free(b);
}

/* Start the handler threads, the puller, the pusher and the watchdog. */
int uffd_start(struct uffd *u, struct err *e)
{
	int rc;
	if (!u->dest)
		warm_demand(u);
	for (unsigned i = 0; i < u->cfg.threads; i++) {
		if ((rc = pthread_create(&u->handlers[i], NULL, handler_main, u)))
			return err_errno(e, rc, "uffd: handler thread");
		u->nhandlers++;
	}
	if (u->cfg.prefetch != PF_OFF || u->dest) {
		if ((rc = pthread_create(&u->puller, NULL, puller_main, u)))
			return err_errno(e, rc, "uffd: puller thread");
		u->puller_started = 1;
	}
	if (u->cfg.wp && u->cfg.push_interval_ns && !u->dest) {
		if ((rc = pthread_create(&u->pusher, NULL, pusher_main, u)))
			return err_errno(e, rc, "uffd: pusher thread");
		u->pusher_started = 1;
	}
	if ((rc = pthread_create(&u->watchdog, NULL, watchdog_main, u)))
		return err_errno(e, rc, "uffd: watchdog thread");
	u->watchdog_started = 1;
	return 0;
}

/* Stop every thread and free everything (leaks on purpose after a fatal error:
 * requests may still be in flight on a dead link). */
void uffd_stop(struct uffd *u)
{
	atomic_store(&u->stopping, 1);
	uint64_t one = 1;
	if (u->stop_fd >= 0 && write(u->stop_fd, &one, sizeof one) < 0)
		log_debug("uffd: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&u->pool_lock);
	pthread_cond_broadcast(&u->pool_cond);
	pthread_mutex_unlock(&u->pool_lock);
	pthread_mutex_lock(&u->pull_lock);
	pthread_cond_broadcast(&u->pull_cond);
	pthread_mutex_unlock(&u->pull_lock);
	pthread_mutex_lock(&u->conn_lock);
	pthread_cond_broadcast(&u->conn_cond);
	pthread_mutex_unlock(&u->conn_lock);
	pthread_mutex_lock(&u->push_lock);
	pthread_cond_broadcast(&u->push_cond);
	pthread_mutex_unlock(&u->push_lock);
	pthread_mutex_lock(&u->sw_lock);
	pthread_cond_broadcast(&u->sw_cond);
	pthread_mutex_unlock(&u->sw_lock);
	if (atomic_load(&u->failed)) {
		/* Threads may be blocked on requests that never complete. */
		log_debug("uffd: not joining threads after a fatal error");
		return;
	}
	for (unsigned i = 0; i < u->nhandlers; i++)
		pthread_join(u->handlers[i], NULL);
	if (u->puller_started)
		pthread_join(u->puller, NULL);
	if (u->pusher_started)
		pthread_join(u->pusher, NULL);
	if (u->watchdog_started)
		pthread_join(u->watchdog, NULL);
	if (u->ctl_started)
		pthread_join(u->ctl_thread, NULL);
	uffd_migrate_stop(u);
	if (atomic_load(&u->failed))
		return;
	remote_close(u->pg);
	remote_close(u->fg);
	remote_close(u->bg);
	if (log_verbose >= 2)
		log_debug("uffd: faults %" PRIu64 " (fetched %llu, waited %llu), wp faults %llu, background reads %llu "
			  "(errors %llu), copies %llu, overtakes %llu",
			  u->r->faults, (unsigned long long)u->faults_fetched, (unsigned long long)u->faults_waited,
			  (unsigned long long)u->wp_faults, (unsigned long long)u->bg_reads,
			  (unsigned long long)u->bg_errors, (unsigned long long)u->copies,
			  (unsigned long long)u->overtakes);
	uffd_free(u);
}

/* ---- approach hooks ---------------------------------------------------------- */

/* Remote process: a memory backend with the version-0 content, served over NBD. */
static int uffd_serve(struct host *h, struct err *e)
{
	const struct scenario *sc = h->sc;
	struct uffd_host *uh = calloc(1, sizeof *uh);
	if (!uh)
		return err_errno(e, ENOMEM, "uffd serve");
	uh->b = backend_memory_new(sc->size, e);
	if (!uh->b) {
		free(uh);
		return -1;
	}
	struct content_model m = {.seed = sc->seed, .size = sc->size, .versions = NULL};
	content_fill(&m, backend_base(uh->b), 0, sc->size);
	uh->srv = nbd_server_new(uh->b, NULL, e);
	char port[16];
	snprintf(port, sizeof port, "%d", h->port);
	if (!uh->srv || nbd_server_listen(uh->srv, h->addr, port, e)) {
		if (uh->srv)
			nbd_server_free(uh->srv);
		backend_close(uh->b);
		free(uh);
		return -1;
	}
	h->port = nbd_server_port(uh->srv);
	h->priv = uh;
	return 0;
}

/* Remote process: read the remote copy for verification. */
static int uffd_remote_read(struct host *h, void *buf, size_t len, uint64_t off, struct err *e)
{
	struct uffd_host *uh = h->priv;
	return backend_read(uh->b, buf, len, off, e);
}

/* Remote process: stop serving. */
static void uffd_serve_stop(struct host *h)
{
	struct uffd_host *uh = h->priv;
	if (!uh)
		return;
	nbd_server_free(uh->srv);
	backend_close(uh->b);
	free(uh);
	h->priv = NULL;
}

/* Local process: check the options, connect to the remote, ask for a uffd region
 * (handler=inprocess: the workload connects and runs the threads, uffd_inproc.c). */
static int uffd_open(const struct scenario *sc, struct region *r, struct err *e)
{
	if (!remote_available())
		return err_set(e, "uffd needs libnbd (not found at build time)");
	struct uffd_cfg cfg;
	if (uffd_parse_cfg(sc, &cfg, e))
		return -1;
	if (cfg.inproc)
		return uffd_inproc_open(sc, r, &cfg, e);
	struct uffd *u = uffd_new(sc, r, e);
	if (!u)
		return -1;
	snprintf(u->uri, sizeof u->uri, "nbd://%s:%d/", sc->remote_addr, sc->port);
	if (uffd_connect(u, e)) {
		uffd_free(u);
		return -1;
	}
	r->kind = REGION_ANON_UFFD;
	r->uffd_register_wp = u->cfg.wp;
	r->priv = u;
	return 0;
}

/* Local process: take the workload's userfaultfd and start the threads. */
static int uffd_attach(struct region *r, struct err *e)
{
	if (r->handler_in_workload)
		return uffd_inproc_attach(r, e);
	struct uffd *u = r->priv;
	if (r->size != u->size)
		return err_set(e, "uffd: region of %" PRIu64 " bytes, expected %" PRIu64, r->size, u->size);
	u->uffd = r->uffd;
	r->uffd = -1; /* ours now */
	u->base = (uintptr_t)r->addr;
	return uffd_start(u, e);
}

/* Push every dirty chunk unless the handler failed (in the process running it). */
int uffd_push(struct uffd *u, struct err *e)
{
	if (atomic_load(&u->failed)) {
		pthread_mutex_lock(&u->err_lock);
		err_set(e, "%s", u->fatal.msg);
		pthread_mutex_unlock(&u->err_lock);
		return -1;
	}
	return push_dirty(u, e);
}

/* Local process: push every dirty chunk (handler=inprocess: ask the workload to). */
static int uffd_sync(struct region *r, struct err *e)
{
	if (r->handler_in_workload)
		return uffd_inproc_sync(r, e);
	return uffd_push(r->priv, e);
}

/* Local process: stop and free. */
static void uffd_close(struct region *r)
{
	if (r->handler_in_workload) {
		uffd_inproc_close(r);
		return;
	}
	struct uffd *u = r->priv;
	if (!u)
		return;
	r->priv = NULL;
	uffd_stop(u);
}

/* Can userfaultfd run here? */
static int uffd_probe(struct err *e)
{
	if (!remote_available())
		return err_set(e, "uffd needs libnbd (not found at build time)");
	if (access("/proc/sys/vm/unprivileged_userfaultfd", F_OK) && access("/dev/userfaultfd", F_OK))
		return err_set(e, "this kernel has no userfaultfd");
	return 0;
}

const struct approach_ops uffd_ops = {
	.name = "uffd",
	.summary = "userfaultfd pull with fault-around, readahead/background prefetch, WP write tracking, post-copy",
	.caps = CAP_READ | CAP_WRITE | CAP_MIGRATE | CAP_REMOTE,
	.options = uffd_options,
	.probe = uffd_probe,
	.serve = uffd_serve,
	.remote_read = uffd_remote_read,
	.serve_stop = uffd_serve_stop,
	.open = uffd_open,
	.attach = uffd_attach,
	.workload_attach = uffd_workload_attach,
	.workload_detach = uffd_workload_detach,
	.sync = uffd_sync,
	.close = uffd_close,
	.migrate_dest = uffd_migrate_dest,
	.migrate_source = uffd_migrate_source,
};
