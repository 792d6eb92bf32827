/*
 * managed_int.h - internals of the managed engine (managed.h), shared by
 * managed.c (cache, chunk states, demand reads, writes, counters, the
 * backend), managed_pull.c (the background pull, its orders, invalidation)
 * and managed_push.c (the dirty queue, push rounds, flush, tracking).
 *
 * Chunk state: one byte per chunk (st[]), residency in the low two bits
 * and flags above. It changes only under the chunk's stripe lock
 * (chunk % MANAGED_STRIPES) and is read without a lock by the fast paths
 * (acquire load: a chunk seen PRESENT has its bytes in the cache). Waiters
 * for a chunk sleep on its stripe's condition variable; every change out
 * of FETCHING, FILLING or PUSHING broadcasts it.
 *
 * Bytes in the cache change only under the stripe lock too (writes, and
 * push snapshots read under it), except a fetch landing in a chunk that
 * is FETCHING and a whole-chunk write filling a chunk that is FILLING,
 * which nobody else touches.
 *
 * Lock order: flush_lock -> round_lock -> pull_lock -> stripe lock ->
 * q_lock; pw_lock is never held while taking another. No lock is held
 * across a request to the remote, except round_lock (one push round at a
 * time) and flush_lock (one flush at a time).
 */
#ifndef MEMSYNC_MANAGED_INT_H
#define MEMSYNC_MANAGED_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "managed.h"

#define MANAGED_STRIPES 512

/* The state byte of a chunk. */
enum {
	CH_ABSENT = 0,   /* not in the cache */
	CH_FETCHING = 1, /* a read from the remote into the cache is in flight */
	CH_FILLING = 2,  /* a write covering the whole chunk is copying it in */
	CH_PRESENT = 3,  /* the cache holds it */
	CH_RES = 3,      /* mask of the residency above */
	CH_DIRTY = 4,    /* written since its last push was started */
	CH_QUEUED = 8,   /* on the push queue (or in the round that took it) */
	CH_PUSHING = 16, /* a push of it is in flight */
	CH_SENT = 32,    /* pushed at least once */
};

/* One lock and condition variable for a stripe of chunks. */
struct stripe {
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* One read from the remote into the cache (demand or background); also
 * the entry of the list of pulled chunks waiting for on_pulled. */
struct fetch {
	struct managed *m;
	uint64_t c;
	struct fetch *next;
};

/* A push in flight: the chunk and the slot holding its snapshot. */
struct push_req {
	struct managed *m;
	uint64_t c;
	int slot;
};

struct managed {
	struct remote *r;
	struct remote *rd;              /* demand fetches: demand_remote or r */
	uint64_t size, chunk, nchunks;
	unsigned shift;                 /* log2(chunk) */
	int pull_max;                   /* background fetches in flight; -1 = no pull */
	int push_max;                   /* pushes in flight */
	uint64_t push_interval_ns;
	int retry_ms, close_timeout_ms;
	enum managed_order order;
	void (*on_pulled)(void *arg, uint64_t off, size_t len, const void *data);
	void *cb_arg;
	unsigned long long t0;          /* managed_new() */

	unsigned char *cache;
	size_t map_len;
	int cache_fd;                   /* -1: anonymous memory */

	_Atomic uint8_t *st;            /* chunk states */
	struct stripe *stripes;
	atomic_uchar *track;            /* written since managed_track_start() */
	atomic_int tracking;
	atomic_int stopping;
	atomic_int io_inflight;         /* requests of the engine in flight */
	atomic_int last_error;          /* errno of the latest failed fetch */

	/* pull (managed_pull.c), under pull_lock */
	pthread_mutex_t pull_lock;
	pthread_cond_t pull_cond;       /* pull thread and flush's pause wait */
	pthread_cond_t done_cond;       /* all present, or the pull failed */
	pthread_t pull_thread;
	int pull_started;
	int pull_now;                   /* background fetches in flight */
	int pull_paused;                /* > 0: submit nothing (flush drains the remote) */
	unsigned pull_work;             /* bumped whenever new work may exist */
	uint64_t *prio;                 /* invalidated or failed chunks: a ring */
	size_t prio_head, prio_len, prio_cap;
	uint64_t *order_list;           /* header-first or list order, then linear */
	size_t order_len, order_pos;
	uint64_t cursor, scan_run;      /* linear scan position; chunks passed without work */
	uint64_t follow_seen;
	atomic_ullong follow_seq, follow_next; /* latest demand read: count and next chunk */
	struct fetch *landed;           /* pulled chunks for on_pulled */
	atomic_ullong present;          /* chunks PRESENT */
	atomic_int pull_failed;

	/* push (managed_push.c) */
	pthread_mutex_t q_lock;         /* the dirty queue */
	uint64_t *queue, *queue_spare;  /* nchunks each: a chunk is queued at most once */
	size_t qlen;
	pthread_mutex_t round_lock;     /* one push round at a time */
	pthread_mutex_t flush_lock;     /* one flush at a time */
	pthread_mutex_t pw_lock;        /* slots, push_now, round_err, the push thread's timer */
	pthread_cond_t pw_cond;
	unsigned char *push_buf;        /* push_max slots of one chunk: snapshots being sent */
	struct push_req *push_reqs;     /* one per slot */
	int *free_slots, nfree;
	int push_now, round_err;
	pthread_t push_thread;
	int push_started;
	atomic_ullong dirty;            /* chunks with CH_DIRTY */

	atomic_ullong demand_fetches, demand_joins, bytes_demand, bytes_background, pull_done_ns;
	atomic_ullong bytes_pushed, chunks_pushed, chunks_resent, pushes;
};

/* ---- managed_state.c ---- */

/* The chunk's state byte (acquire). */
static inline uint8_t ch_get(struct managed *m, uint64_t c)
{
	return atomic_load_explicit(&m->st[c], memory_order_acquire);
}

/* Set the chunk's state byte (its stripe lock held; release). */
static inline void ch_set(struct managed *m, uint64_t c, uint8_t v)
{
	atomic_store_explicit(&m->st[c], v, memory_order_release);
}

/* The stripe of chunk c. */
static inline struct stripe *ch_stripe(struct managed *m, uint64_t c)
{
	return &m->stripes[c % MANAGED_STRIPES];
}

/* Bytes in chunk c (the last one may be short). */
static inline size_t ch_len(const struct managed *m, uint64_t c)
{
	uint64_t off = c << m->shift;
	return (size_t)(m->size - off < m->chunk ? m->size - off : m->chunk);
}

/* Absolute CLOCK_MONOTONIC time ns from now, for timed waits. */
void managed_deadline(struct timespec *ts, unsigned long long ns_from_now);
/* Finish a fetch of chunk c: PRESENT on success, ABSENT on error; wakes waiters. */
void managed_landed(struct managed *m, uint64_t c, int error);
/* Count one more chunk present (stripe lock held); 1 when it was the last. */
int managed_present_inc_locked(struct managed *m);
/* Every chunk is present: record the pull's completion and wake its waiters. */
void managed_pull_done_signal(struct managed *m);

/* ---- managed_pull.c ---- */

/* Build the background order (header-first or the list file). */
int pull_order_init(struct managed *m, const char *order_file, struct err *e);
/* Start the pull thread (pull_max >= 0). */
int pull_start(struct managed *m, struct err *e);
/* Put chunk c (now absent) at the head of the background pull. */
void pull_requeue(struct managed *m, uint64_t c);
/* Stop submitting and wait until no background fetch is in flight. */
void pull_pause(struct managed *m);
/* Undo pull_pause(). */
void pull_resume(struct managed *m);
/* Wake the pull thread and every waiter (closing). */
void pull_wake_all(struct managed *m);

/* ---- managed_push.c ---- */

/* Mark chunk c written (stripe lock held, c PRESENT): dirty and queued. */
void push_mark_dirty_locked(struct managed *m, uint64_t c);
/* Allocate the push slots; start the push thread (push_interval_ns > 0). */
int push_start(struct managed *m, struct err *e);
/* Free the push slots (threads stopped). */
void push_free(struct managed *m);
/* Wake the push thread (closing). */
void push_wake(struct managed *m);

#endif
