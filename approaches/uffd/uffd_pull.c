/*
 * uffd_pull.c - the uffd core's background puller.
 *
 * One thread keeps up to `inflight` requests of up to `batch` bytes (runs of
 * absent chunks, claimed with compare-and-swap) in flight on the background
 * client's `pullers` connections. It takes the readahead window the fault
 * handlers grow first (prefetch=readahead), then, with prefetch=background,
 * every absent chunk in the chosen order: linear, follow (from the latest
 * fault on), header-first (the workload's header, then follow) or list:FILE
 * (byte offsets, one per line, then linear). Completions install the data
 * with UFFDIO_COPY on the client's poller threads.
 */
#include "uffd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "units.h"

#define PULL_IDLE_NS 20000000ull        /* nothing to pull: look again after 20 ms (or a hint) */
#define PULL_RETRY_NS 100000000ull      /* a background read could not be submitted: pause 100 ms */
#define HEADER_DEFAULT (1u << 20)       /* order=header-first on a workload without a header size */
#define LIST_INITIAL_CAP 256            /* first allocation of the order list, doubling */

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

/* The next run inside the readahead window, up to max chunks; 0 if none. */
static uint64_t next_readahead_run(struct uffd *u, uint64_t max, uint64_t *c0)
{
	for (uint64_t h; (h = atomic_load(&u->ra_next)) < atomic_load(&u->ra_end);) {
		uint64_t lim = atomic_load(&u->ra_end) - h, n;
		if (!atomic_compare_exchange_strong(&u->ra_next, &h, h + 1))
			continue;
		if ((n = claim_run(u, h, lim < max ? lim : max))) {
			uint64_t exp = h + 1;
			atomic_compare_exchange_strong(&u->ra_next, &exp, h + n);
			*c0 = h;
			return n;
		}
	}
	return 0;
}

/* The next run in the background order, up to max chunks; 0 if none. */
static uint64_t next_ordered_run(struct uffd *u, uint64_t max, uint64_t *c0)
{
	uint64_t n;
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

/* Pick the next run to pull: readahead hints first, then the order. */
static uint64_t next_run(struct uffd *u, uint64_t *c0)
{
	uint64_t max = u->cfg.batch / u->chunk, n;
	if (max < 1)
		max = 1;
	if ((u->cfg.prefetch & PF_READAHEAD) && (n = next_readahead_run(u, max, c0)))
		return n;
	if (!(u->cfg.prefetch & PF_BACKGROUND) || atomic_load(&u->nabsent) == 0 || atomic_load(&u->pull_paused))
		return 0;
	return next_ordered_run(u, max, c0);
}

/* Completion of a background read (poller thread): install the run. */
static void pull_done(void *arg, int error)
{
	struct uffd_slot *s = arg;
	struct uffd *u = s->u;
	uint64_t off = s->c0 * u->chunk, len = uffd_run_len(u, s->c0, s->n);
	if (error) {
		atomic_fetch_add(&u->bg_errors, 1);
		uffd_mark_absent(u, s->c0, s->n);
	} else if (uffd_copy_in(u, s->buf, off, len, u->cfg.wp)) {
		int en = errno;
		uffd_mark_absent(u, s->c0, s->n);
		if (en != ESRCH && en != ENOENT && !atomic_load(&u->stopping))
			uffd_fatal(u, "UFFDIO_COPY of %" PRIu64 " bytes at offset %" PRIu64 " failed: %s", len, off,
				   strerror(en));
	} else {
		uffd_count_pulled(u, s->c0, s->n);
		uffd_mark_present(u, s->c0, s->n, 0);
		atomic_fetch_add(&u->bg_reads, 1);
	}
	uffd_slot_put(u, s);
}

/* Wait until the first fault is resolved (or stop). */
static void wait_first_fault(struct uffd *u)
{
	pthread_mutex_lock(&u->pull_lock);
	while (!atomic_load(&u->first_fault_done) && !atomic_load(&u->stopping))
		pthread_cond_wait(&u->pull_cond, &u->pull_lock);
	pthread_mutex_unlock(&u->pull_lock);
}

/* Nothing to pull now: wait for a readahead hint or a short while. */
static void wait_idle(struct uffd *u)
{
	struct timespec dl;
	uffd_deadline(CLOCK_REALTIME, PULL_IDLE_NS, &dl);
	pthread_mutex_lock(&u->pull_lock);
	if (!atomic_load(&u->stopping))
		pthread_cond_timedwait(&u->pull_cond, &u->pull_lock, &dl);
	pthread_mutex_unlock(&u->pull_lock);
}

/* The puller thread: keep background reads in flight until everything is present. */
void *uffd_puller_main(void *arg)
{
	struct uffd *u = arg;
	struct err e = {0};
	if (u->hooks.connect && u->hooks.connect(u, &e))
		return NULL;
	/* Serve the first fault alone (post-copy: the workload resumes), then
	 * pull the rest: a fresh link is not yet queued full of prefetch. */
	if (u->cfg.bg_after_fault)
		wait_first_fault(u);
	while (!atomic_load(&u->stopping)) {
		struct uffd_slot *s = uffd_slot_get(u);
		if (!s)
			break;
		uint64_t c0 = 0, n = next_run(u, &c0);
		if (!n) {
			uffd_slot_put(u, s);
			if (!(u->cfg.prefetch & PF_READAHEAD) && atomic_load(&u->nabsent) == 0)
				break;
			wait_idle(u);
			continue;
		}
		s->c0 = c0;
		s->n = n;
		atomic_store(&s->t_submit, now_ns());
		err_clear(&e);
		if (remote_aio_pread(u->bg, s->buf, uffd_run_len(u, c0, n), c0 * u->chunk, pull_done, s, &e)) {
			atomic_fetch_add(&u->bg_errors, 1);
			uffd_mark_absent(u, c0, n);
			uffd_slot_put(u, s);
			log_debug("uffd: background read failed: %s", e.msg);
			uffd_nap(u, PULL_RETRY_NS);
		}
	}
	return NULL;
}

/* ---- the order list ------------------------------------------------------------ */

/* order=header-first: the chunks of the workload's header, in order. */
static int order_header_first(struct uffd *u, struct err *e)
{
	uint64_t hdr = u->sc->wl.header_size ? u->sc->wl.header_size : HEADER_DEFAULT;
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

/* Append chunk c to the order list. */
static int order_append(struct uffd *u, uint64_t c, uint64_t *cap, struct err *e)
{
	if (u->nlist == *cap) {
		uint64_t ncap = *cap ? *cap * 2 : LIST_INITIAL_CAP;
		uint64_t *nl = realloc(u->list, ncap * sizeof *nl);
		if (!nl)
			return err_errno(e, ENOMEM, "order list");
		u->list = nl;
		*cap = ncap;
	}
	u->list[u->nlist++] = c;
	return 0;
}

/* Load the background order list (order=header-first, or list:FILE: one
 * byte offset per line, '#' comments). */
int uffd_load_order(struct uffd *u, struct err *e)
{
	if (u->cfg.order == ORD_HEADER_FIRST)
		return order_header_first(u, e);
	if (u->cfg.order != ORD_LIST)
		return 0;
	FILE *f = fopen(u->cfg.list_path, "r");
	if (!f)
		return err_errno(e, errno, "option order=list:%s", u->cfg.list_path);
	char line[128];
	uint64_t cap = 0;
	int rc = 0;
	for (int ln = 1; !rc && fgets(line, sizeof line, f); ln++) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		p[strcspn(p, " \t\r\n#")] = '\0';
		uint64_t off;
		struct err sub = {0};
		if (parse_size(p, &off, &sub) || off >= u->size)
			rc = err_set(e, "%s:%d: %s", u->cfg.list_path, ln, sub.set ? sub.msg : "offset outside the region");
		else
			rc = order_append(u, off / u->chunk, &cap, e);
	}
	fclose(f);
	return rc;
}
