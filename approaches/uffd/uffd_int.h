/*
 * uffd_int.h - what the parts of the uffd core share: an anonymous region
 * registered with userfaultfd whose faults are resolved from one remote copy
 * served over NBD.
 *
 * The core is five files, each calling only the ones listed after it:
 *   uffd_core.c   lifecycle: allocate, connect, start and stop the threads
 *   uffd_fault.c  fault handler threads: demand fetch, fault-around, overtake
 *   uffd_pull.c   the background puller: readahead window, order, batches
 *   uffd_push.c   write tracking: dirty chunks re-protected and pushed
 *   uffd_state.c  chunk state, UFFDIO_COPY, request slots, the fatal error
 * Modes built on the core (post-copy migration, uffd_migrate.c; the handler
 * in the workload process, uffd_inproc.c) call it and plug into it through
 * struct uffd_hooks; the core never calls them by name.
 */
#ifndef MEMSYNC_UFFD_INT_H
#define MEMSYNC_UFFD_INT_H

#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "approach.h"
#include "remote.h"

#define UFFD_PAGE 4096u
#define UFFD_NLOCKS 256      /* stripes of the per-chunk lock */
#define UFFD_MAX_THREADS 64  /* fault handler threads */

/* State of one chunk, one byte each, changed with compare-and-swap. */
enum { CH_ABSENT, CH_INFLIGHT /* demand fault */, CH_PRESENT, CH_INFLIGHT_BG /* background */ };
/* Prefetch (option prefetch), a bit set: both = PF_READAHEAD | PF_BACKGROUND. */
enum { PF_OFF = 0, PF_READAHEAD = 1, PF_BACKGROUND = 2 };
/* Order of the background pull (option order). */
enum { ORD_LINEAR, ORD_FOLLOW, ORD_HEADER_FIRST, ORD_LIST };

/* The core's tuning, from the -o options (uffd_opts.c). */
struct uffd_cfg {
	uint64_t chunk, batch, readahead;
	unsigned threads, pullers, inflight, retries;
	int prefetch, order, wp, page_first, overtake, bg_after_fault;
	char list_path[96];
	uint64_t push_interval_ns, timeout_ns;
};

/* One background request (pull or push) and its buffer. */
struct uffd_slot {
	struct uffd *u;
	unsigned char *buf;
	uint64_t c0, n;
	_Atomic uint64_t t_submit; /* 0 = free */
	struct uffd_slot *next;
};

struct uffd;

/*
 * What a mode adds to the core. Every hook is optional; arg is the mode's
 * state. Set them before uffd_start() (stopping/stopped: before uffd_stop()).
 */
struct uffd_hooks {
	/* Connect the clients (uffd_connect) later than attach: called first
	 * thing by the puller thread, which then runs even with prefetch=off;
	 * faults wait for the connection (uffd_fg). 0 or -1. */
	int (*connect)(struct uffd *u, struct err *e);
	/* uffd_stop() began (u->stopping is set): wake the mode's own waiters. */
	void (*stopping)(struct uffd *u);
	/* uffd_stop() joined the core's threads (not called after a fatal
	 * error): stop and free the mode's own parts. */
	void (*stopped)(struct uffd *u);
	void *arg;
};

struct uffd {
	const struct scenario *sc;
	struct region *r;
	struct uffd_cfg cfg;
	struct uffd_hooks hooks;
	int same_mm; /* the region is mapped in this process: read dirty chunks with memcpy */
	char uri[160];
	struct remote *fg, *bg, *pg; /* demand chunks; background pulls and pushes; demand pages */
	pthread_mutex_t conn_lock;
	pthread_cond_t conn_cond;

	int uffd;
	uintptr_t base;
	uint64_t size, chunk, nchunks, ra_max;
	_Atomic unsigned char *state, *dirty;
	pthread_mutex_t locks[UFFD_NLOCKS]; /* per chunk (striped): dirty flag + protection */
	atomic_uint_fast64_t npresent, nabsent;

	pthread_t handlers[UFFD_MAX_THREADS], puller, pusher, watchdog;
	unsigned nhandlers;
	int puller_started, pusher_started, watchdog_started;
	int stop_fd; /* eventfd: wakes the threads polling the userfaultfd */
	atomic_int stopping;

	struct uffd_slot *slots, *free_slots;
	unsigned nslots;
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;

	/* Readahead hints and the background order. */
	atomic_uint_fast64_t last_fault, ra_win, ra_next, ra_end, follow_pos;
	atomic_int pull_paused, first_fault_done;
	pthread_mutex_t pull_lock;
	pthread_cond_t pull_cond;
	uint64_t *list, nlist, list_pos, cursor, follow_seen; /* puller thread only */

	/* Push. */
	pthread_mutex_t sync_lock, push_lock;
	pthread_cond_t push_cond;
	int push_pending;
	atomic_int push_error;

	/* Errors. */
	pthread_mutex_t err_lock;
	struct err fatal;
	atomic_int failed;

	/* Statistics (debug log). */
	atomic_ullong faults_fetched, faults_waited, wp_faults, bg_reads, bg_errors, copies, overtakes;
};

/* ---- what modes and the approach's hooks use ------------------------------ */

/* uffd_core.c */
/* Is sc->size a region the core can handle (positive, page multiple, 4 KiB pages)? */
int uffd_check_region(const struct scenario *sc, struct err *e);
/* Allocate the state of a region of sc->size bytes tuned by cfg. */
struct uffd *uffd_new(const struct scenario *sc, struct region *r, const struct uffd_cfg *cfg, struct err *e);
/* Free the state (threads stopped, clients closed). */
void uffd_free(struct uffd *u);
/* The remote to pull from: nbd://addr:port/. */
void uffd_set_uri(struct uffd *u, const char *addr, int port);
/* Connect the demand and background clients to u->uri; check the export size. */
int uffd_connect(struct uffd *u, struct err *e);
/* Take the registered region: r's userfaultfd (r->uffd becomes -1) and address. */
int uffd_take_region(struct uffd *u, struct region *r, struct err *e);
/* Start the handler threads, the puller, the pusher and the watchdog. */
int uffd_start(struct uffd *u, struct err *e);
/* Stop every thread and free everything (leaks on purpose after a fatal error). */
void uffd_stop(struct uffd *u);

/* uffd_push.c */
/* Push every dirty chunk unless the handler failed. */
int uffd_push(struct uffd *u, struct err *e);

/* uffd_state.c */
/* Record the first fatal error, log it and tell the harness (any thread). */
void uffd_fatal(struct uffd *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* -1 with the fatal error in e if the handler failed, else 0. */
int uffd_failed(struct uffd *u, struct err *e);
/* The demand client, waiting until it is connected (hooks.connect). */
struct remote *uffd_fg(struct uffd *u, struct err *e);
/* Bytes in chunks [c0, c0 + n). */
uint64_t uffd_run_len(const struct uffd *u, uint64_t c0, uint64_t n);
/* Install len bytes at region offset off with UFFDIO_COPY (see uffd_state.c). */
int uffd_copy_in(struct uffd *u, const void *src, uint64_t off, uint64_t len, int wp);

/* ---- between the core's own files ------------------------------------------ */

/* uffd_state.c */
/* Sleep ns nanoseconds in short steps unless stopping. */
void uffd_nap(struct uffd *u, uint64_t ns);
/* The absolute time ns from now on clock clk, for a timed wait. */
void uffd_deadline(clockid_t clk, uint64_t ns, struct timespec *ts);
/* Wake every thread waiting on a fault in [off, off + len). */
void uffd_wake_range(struct uffd *u, uint64_t off, uint64_t len);
/* Add to one of the region's counters (read by the harness thread). */
void uffd_count(uint64_t *field, uint64_t v);
/* Mark chunks [c0, c0 + n) present after their data was installed. */
void uffd_mark_present(struct uffd *u, uint64_t c0, uint64_t n, int dirty);
/* Count chunks [c0, c0 + n) as pulled (their data arrived; before installing it). */
void uffd_count_pulled(struct uffd *u, uint64_t c0, uint64_t n);
/* Put chunks [c0, c0 + n) back to absent (a fetch failed) and wake their waiters. */
void uffd_mark_absent(struct uffd *u, uint64_t c0, uint64_t n);
/* Take a free request slot, waiting for one; NULL when stopping. */
struct uffd_slot *uffd_slot_get(struct uffd *u);
/* Return a request slot to the pool. */
void uffd_slot_put(struct uffd *u, struct uffd_slot *s);

/* uffd_fault.c */
/* Handler thread: read fault messages from the userfaultfd and resolve them. */
void *uffd_handler_main(void *arg);
/* Warm the demand path before the workload runs. */
void uffd_warm_demand(struct uffd *u);

/* uffd_pull.c */
/* Load the background order list (order=header-first or list:FILE). */
int uffd_load_order(struct uffd *u, struct err *e);
/* The puller thread: keep background reads in flight until everything is present. */
void *uffd_puller_main(void *arg);

/* uffd_push.c */
/* Pusher thread: push dirty chunks every push_interval. */
void *uffd_pusher_main(void *arg);

/* The striped lock of chunk c. */
static inline pthread_mutex_t *uffd_lock(struct uffd *u, uint64_t c)
{
	return &u->locks[c % UFFD_NLOCKS];
}

#endif
