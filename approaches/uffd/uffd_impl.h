/*
 * uffd_impl.h - shared state of the uffd approach (uffd.c, uffd_migrate.c,
 * uffd_inproc.c).
 */
#ifndef MEMSYNC_UFFD_IMPL_H
#define MEMSYNC_UFFD_IMPL_H

#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "approach.h"
#include "remote.h"

#define UFFD_PAGE 4096u
#define UFFD_NLOCKS 256
#define UFFD_MAX_THREADS 64

enum { CH_ABSENT, CH_INFLIGHT /* demand fault */, CH_PRESENT, CH_INFLIGHT_BG /* background */ };
enum { PF_OFF = 0, PF_READAHEAD = 1, PF_BACKGROUND = 2 };
enum { ORD_LINEAR, ORD_FOLLOW, ORD_HEADER_FIRST, ORD_LIST };

struct uffd_cfg {
	uint64_t chunk, batch, readahead;
	unsigned threads, pullers, inflight, retries;
	int prefetch, order, wp, mig_port_offset, page_first, overtake, bg_after_fault;
	int inproc; /* handler=inprocess: the threads run in the workload process */
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

struct uffd_mig;

struct uffd {
	const struct scenario *sc;
	struct region *r;
	struct uffd_cfg cfg;
	int dest; /* migration destination: pull from the source */
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
	int stop_fd;
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

	/* Migration. */
	struct uffd_mig *mig;
	atomic_int switched;
	pthread_mutex_t sw_lock;
	pthread_cond_t sw_cond;

	/* handler=inprocess (uffd_inproc.c): we are the workload process; a
	 * control thread serves the local process's sync() on ctl_fd. */
	int ctl_fd;
	pthread_t ctl_thread;
	int ctl_started;

	/* Statistics (debug log). */
	atomic_ullong faults_fetched, faults_waited, wp_faults, bg_reads, bg_errors, copies, overtakes;
};

/* Remote side state. */
struct uffd_host {
	struct backend *b;
	struct nbd_server *srv;
};

/* The striped lock of chunk c. */
static inline pthread_mutex_t *uffd_lock(struct uffd *u, uint64_t c)
{
	return &u->locks[c % UFFD_NLOCKS];
}

void uffd_fatal(struct uffd *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t uffd_run_len(const struct uffd *u, uint64_t c0, uint64_t n);
int uffd_copy_in(struct uffd *u, const void *src, uint64_t off, uint64_t len, int wp);
int uffd_connect(struct uffd *u, struct err *e);
struct remote *uffd_fg(struct uffd *u, struct err *e);
struct uffd *uffd_new(const struct scenario *sc, struct region *r, struct err *e);
void uffd_free(struct uffd *u);
int uffd_start(struct uffd *u, struct err *e);
void uffd_stop(struct uffd *u);
int uffd_parse_cfg(const struct scenario *sc, struct uffd_cfg *c, struct err *e);
int uffd_push(struct uffd *u, struct err *e);

/* uffd_inproc.c (handler=inprocess) */
int uffd_workload_attach(const struct scenario *sc, struct region *r, struct err *e);
void uffd_workload_detach(struct region *r);
int uffd_inproc_open(const struct scenario *sc, struct region *r, const struct uffd_cfg *cfg, struct err *e);
int uffd_inproc_attach(struct region *r, struct err *e);
int uffd_inproc_sync(struct region *r, struct err *e);
void uffd_inproc_close(struct region *r);

/* uffd_migrate.c */
int uffd_migrate_dest(const struct scenario *sc, struct region *r, struct err *e);
int uffd_migrate_source(struct region *r, struct migration *m, struct err *e);
int uffd_connect_dest(struct uffd *u, struct err *e);
void uffd_migrate_stop(struct uffd *u);
void uffd_dest_warm(struct uffd *u);

#endif
