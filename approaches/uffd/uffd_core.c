/*
 * uffd_core.c - the uffd core's lifecycle: allocate the state of a region,
 * connect the clients, take the registered region, start the threads (fault
 * handlers, puller, pusher, watchdog) and stop them.
 *
 * Modes plug in through u->hooks (uffd_int.h): a late connection in the
 * puller thread, and their own teardown inside uffd_stop().
 */
#include "uffd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define WATCHDOG_PERIOD_NS 200000000ull /* the watchdog looks at the requests in flight every 200 ms */

/* Is sc->size a region the core can handle (positive, page multiple, 4 KiB pages)? */
int uffd_check_region(const struct scenario *sc, struct err *e)
{
	long ps = sysconf(_SC_PAGESIZE);
	if (ps != UFFD_PAGE)
		return err_set(e, "uffd: page size %ld is not supported (4096 only)", ps);
	if (!sc->size || sc->size % UFFD_PAGE)
		return err_set(e, "region size %" PRIu64 " is not a positive multiple of the page size (%u)", sc->size,
			       UFFD_PAGE);
	return 0;
}

/* Initialize the locks and condition variables. */
static void init_sync(struct uffd *u)
{
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
	for (int i = 0; i < UFFD_NLOCKS; i++)
		pthread_mutex_init(&u->locks[i], NULL);
}

/* The request slots of the background pull and the push, with their buffers. */
static int alloc_slots(struct uffd *u, struct err *e)
{
	u->nslots = u->cfg.inflight;
	u->slots = calloc(u->nslots, sizeof *u->slots);
	if (!u->slots)
		return err_errno(e, ENOMEM, "uffd: request slots");
	for (unsigned i = 0; i < u->nslots; i++) {
		struct uffd_slot *s = &u->slots[i];
		s->u = u;
		s->buf = aligned_alloc(UFFD_PAGE, (u->cfg.batch + UFFD_PAGE - 1) / UFFD_PAGE * UFFD_PAGE);
		if (!s->buf)
			return err_errno(e, ENOMEM, "uffd: request buffers");
		s->next = u->free_slots;
		u->free_slots = s;
	}
	return 0;
}

/* Allocate the state of a region of sc->size bytes tuned by cfg. */
struct uffd *uffd_new(const struct scenario *sc, struct region *r, const struct uffd_cfg *cfg, struct err *e)
{
	if (uffd_check_region(sc, e))
		return NULL;
	struct uffd *u = calloc(1, sizeof *u);
	if (!u)
		return err_errno(e, ENOMEM, "uffd"), NULL;
	u->sc = sc;
	u->r = r;
	u->cfg = *cfg;
	u->uffd = -1;
	u->stop_fd = -1;
	u->size = sc->size;
	init_sync(u);
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
	atomic_store(&u->last_fault, UINT64_MAX - 1); /* no fault yet: the first one is not "sequential" */
	if (uffd_load_order(u, e) || alloc_slots(u, e))
		goto fail;
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
	if (u->uffd >= 0)
		close(u->uffd);
	for (int i = 0; i < UFFD_NLOCKS; i++)
		pthread_mutex_destroy(&u->locks[i]);
	free(u);
}

/* The remote to pull from: nbd://addr:port/. */
void uffd_set_uri(struct uffd *u, const char *addr, int port)
{
	snprintf(u->uri, sizeof u->uri, "nbd://%s:%d/", addr, port);
}

/* Connect the demand and background clients to u->uri; check the export size. */
int uffd_connect(struct uffd *u, struct err *e)
{
	/* Demand requests: one chunk and one page per handler thread, plus warm-up. */
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

/* Take the registered region: r's userfaultfd (r->uffd becomes -1) and address. */
int uffd_take_region(struct uffd *u, struct region *r, struct err *e)
{
	if (r->size != u->size)
		return err_set(e, "uffd: region of %" PRIu64 " bytes, expected %" PRIu64, r->size, u->size);
	u->uffd = r->uffd;
	r->uffd = -1; /* ours now */
	u->base = (uintptr_t)r->addr;
	return 0;
}

/* Watchdog thread: a background request unanswered for the timeout fails the run. */
static void *watchdog_main(void *arg)
{
	struct uffd *u = arg;
	while (!atomic_load(&u->stopping) && !atomic_load(&u->failed)) {
		uffd_nap(u, WATCHDOG_PERIOD_NS);
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

/* Start one thread; *started says it needs joining. */
static int start_thread(pthread_t *t, int *started, void *(*fn)(void *), struct uffd *u, const char *what,
			struct err *e)
{
	int rc = pthread_create(t, NULL, fn, u);
	if (rc)
		return err_errno(e, rc, "uffd: %s thread", what);
	*started = 1;
	return 0;
}

/* Start the handler threads, the puller, the pusher and the watchdog. */
int uffd_start(struct uffd *u, struct err *e)
{
	if (u->fg) /* connected already (not late, through hooks.connect) */
		uffd_warm_demand(u);
	for (unsigned i = 0; i < u->cfg.threads; i++) {
		int rc = pthread_create(&u->handlers[i], NULL, uffd_handler_main, u);
		if (rc)
			return err_errno(e, rc, "uffd: handler thread");
		u->nhandlers++;
	}
	if ((u->cfg.prefetch != PF_OFF || u->hooks.connect) &&
	    start_thread(&u->puller, &u->puller_started, uffd_puller_main, u, "puller", e))
		return -1;
	if (u->cfg.wp && u->cfg.push_interval_ns &&
	    start_thread(&u->pusher, &u->pusher_started, uffd_pusher_main, u, "pusher", e))
		return -1;
	return start_thread(&u->watchdog, &u->watchdog_started, watchdog_main, u, "watchdog", e);
}

/* Wake every thread waiting on one of the core's conditions. */
static void wake_all(struct uffd *u)
{
	pthread_cond_t *conds[] = {&u->pool_cond, &u->pull_cond, &u->conn_cond, &u->push_cond};
	pthread_mutex_t *locks[] = {&u->pool_lock, &u->pull_lock, &u->conn_lock, &u->push_lock};
	for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
		pthread_mutex_lock(locks[i]);
		pthread_cond_broadcast(conds[i]);
		pthread_mutex_unlock(locks[i]);
	}
}

/* The statistics of a run, in the debug log. */
static void log_stats(struct uffd *u)
{
	log_debug("uffd: faults %" PRIu64 " (fetched %llu, waited %llu), wp faults %llu, background reads %llu "
		  "(errors %llu), copies %llu, overtakes %llu",
		  u->r->faults, (unsigned long long)u->faults_fetched, (unsigned long long)u->faults_waited,
		  (unsigned long long)u->wp_faults, (unsigned long long)u->bg_reads, (unsigned long long)u->bg_errors,
		  (unsigned long long)u->copies, (unsigned long long)u->overtakes);
}

/* Stop every thread and free everything (leaks on purpose after a fatal error:
 * requests may still be in flight on a dead link). */
void uffd_stop(struct uffd *u)
{
	atomic_store(&u->stopping, 1);
	uint64_t one = 1;
	if (u->stop_fd >= 0 && write(u->stop_fd, &one, sizeof one) < 0)
		log_debug("uffd: eventfd: %s", strerror(errno));
	wake_all(u);
	if (u->hooks.stopping)
		u->hooks.stopping(u);
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
	if (u->hooks.stopped)
		u->hooks.stopped(u);
	if (atomic_load(&u->failed))
		return;
	remote_close(u->pg);
	remote_close(u->fg);
	remote_close(u->bg);
	if (log_verbose >= 2)
		log_stats(u);
	uffd_free(u);
}
