/*
 * fuse_impl.h - what the files of the fuse approach share: its options,
 * the local side's state, and the parts each file provides.
 *
 *   fuse.c          the approach hooks (open, sync, close, check, cleanup)
 *   fuse_fs.c       the FUSE daemon (one file, libfuse3 low-level)
 *   fuse_data.c     the data paths behind it: direct (remote.h) or managed
 *   fuse_prefetch.c notify_store prefetch into the page cache
 *   fuse_remote.c   the remote side: NBD export + change notices; the watcher
 *   fuse_ctl.c      the small control protocol (change notices, migration)
 *   fuse_migrate.c  two-phase migration (source serves, destination pulls)
 */
#ifndef MEMSYNC_FUSE_IMPL_H
#define MEMSYNC_FUSE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "approach.h"
#include "fuse_fs.h"
#include "managed.h"
#include "remote.h"

enum fuse_prefetch_mode { FUSE_PREFETCH_OFF, FUSE_PREFETCH_READAHEAD, FUSE_PREFETCH_STORE };

/* The approach's options (-o), parsed and checked. */
struct fuse_cfg {
	int managed;                 /* mount=managed (else direct) */
	int prefetch;                /* enum fuse_prefetch_mode */
	uint64_t chunk, max_io, ra;
	int inflight, conns, threads, clone_fd, max_background, splice, writeback, notify, demand_conn;
	int cache_file, wait_pull;
	uint64_t server_chunk;       /* the remote side's server-side chunking (0 = none) */
	enum managed_order order;
	char order_file[96];
	uint64_t push_interval_ns, retry_ns, timeout_ns;
	char remote[96];             /* -o remote=URI; "" = memsync's own remote side */
};

/* Parse and check every option of the scenario. */
int fuse_cfg_parse(const struct scenario *sc, struct fuse_cfg *c, struct err *e);

struct fuse_prefetch;
struct fuse_watch;
struct fuse_mig;

/* The local side (also the migration destination's). */
struct fuse_local {
	const struct scenario *sc;
	struct region *r;
	struct fuse_cfg cfg;
	char mnt[PATH_MAX];
	char uri[256];
	uint64_t size;
	int is_dest;                 /* a migration destination */
	int is_source;               /* a migration source: the kernel's FSYNC ends at the engine */
	struct remote *rm;           /* direct: the data path; managed: the engine's remote */
	struct remote *rm_demand;    /* managed: the engine's demand connection (demand_conn) */
	struct managed *mg;          /* managed mode */
	struct fusefs *fs;
	pthread_key_t buf_key;       /* per thread: struct fuse_buf (fuse_data.c) */
	int buf_key_made;
	struct fuse_prefetch *pf;
	struct fuse_watch *watch;
	struct fuse_mig *mig;
	_Atomic uint8_t *tracked;    /* direct mode, migration source: chunks written */
	atomic_int stopping, failed, write_failed;
	pthread_mutex_t err_mu;
	struct err fatal;
	pthread_t stats_thread;
	int stats_started;
	atomic_ullong pulled_direct, pushed_direct, chunks_written, faults;
};

/* A buffer shared with a remote request that may outlive the wait for it:
 * whoever drops the last reference frees it (fuse_data.c). data is an
 * anonymous mapping of its own (page-aligned, as fusefs_store() needs). */
struct fuse_buf {
	atomic_int refs;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, error;
	size_t size;
	unsigned char *data;
};
struct fuse_buf *fuse_buf_new(size_t size);
void fuse_buf_put(struct fuse_buf *b);
/* One remote request on *bp with the timeout and retries of the options;
 * a timed-out request keeps its buffer and *bp is replaced by a new one. */
int fuse_remote_io(struct fuse_local *l, struct fuse_buf **bp, int write, size_t len, uint64_t off,
		   struct err *e);

/* fuse_data.c: the data path for fusefs (direct or managed). */
int fuse_data_init(struct fuse_local *l, struct err *e);
struct fusefs_io fuse_data_io(struct fuse_local *l);
/* Make every write durable on the remote (local process: after an fsync). */
int fuse_data_flush(struct fuse_local *l, struct err *e);
/* Copy the counters into l->r. */
void fuse_data_counters(struct fuse_local *l);
void fuse_data_fini(struct fuse_local *l);
/* Record a fatal error once and tell the harness. */
void fuse_fatal(struct fuse_local *l, const char *msg);
/* The recorded fatal error into e (-1), or 0 when there is none. */
int fuse_failed(struct fuse_local *l, struct err *e);

/* fuse_prefetch.c: notify_store prefetch. new() before the engine starts
 * (it collects what the engine pulls), begin() once the file is mounted. */
struct fuse_prefetch *fuse_prefetch_new(struct fuse_local *l, struct err *e);
int fuse_prefetch_begin(struct fuse_prefetch *p, struct err *e);
/* managed_opts.on_pulled for prefetch=notify_store (arg = the fuse_local). */
void fuse_prefetch_on_pulled(void *arg, uint64_t off, size_t len, const void *data);
/* Wait until every chunk pulled so far is stored (or skipped). */
int fuse_prefetch_wait(struct fuse_prefetch *p, struct err *e);
/* Stop the thread; free after the engine is closed. */
void fuse_prefetch_stop(struct fuse_prefetch *p);
void fuse_prefetch_free(struct fuse_prefetch *p);

/* fuse_remote.c: the local side's subscription to change notices. */
struct fuse_watch *fuse_watch_start(struct fuse_local *l, struct err *e);
/* A range of the remote copy changed: refetch it (engine) and drop it from the page cache. */
int fuse_apply_change(struct fuse_local *l, uint64_t off, uint64_t len, struct err *e);
void fuse_watch_stop(struct fuse_watch *w);

/* fuse_migrate.c */
int fuse_mig_source_start(struct fuse_local *l, struct err *e);
int fuse_migrate_source(struct region *r, struct migration *m, struct err *e);
int fuse_migrate_dest(const struct scenario *sc, struct region *r, struct err *e);
void fuse_mig_stop(struct fuse_local *l);

/* fuse.c: mount the file over the data path (engine or remote set up). */
int fuse_local_mount(struct fuse_local *l, const char *dirname, struct err *e);
/* A new local side with its options parsed (nothing started). */
struct fuse_local *fuse_local_new(const struct scenario *sc, struct region *r, struct err *e);
/* Stop and free everything of a local side. */
void fuse_local_free(struct fuse_local *l);

/* fuse_remote.c: the remote hooks. */
int fuse_serve(struct host *h, struct err *e);
int fuse_remote_read(struct host *h, void *buf, size_t len, uint64_t off, struct err *e);
void fuse_serve_stop(struct host *h);

#endif
