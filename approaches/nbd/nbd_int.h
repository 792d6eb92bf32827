/*
 * nbd_int.h - what the parts of the nbd approach share: the options, the
 * local side's state (the served backend, the managed engine, the mount),
 * and the migration entry points (nbd_migrate.c).
 */
#ifndef MEMSYNC_NBD_INT_H
#define MEMSYNC_NBD_INT_H

#include <pthread.h>
#include <stdint.h>

#include "approach.h"
#include "backend.h"
#include "managed.h"
#include "nbd_mount.h"
#include "remote.h"

enum nbd_mount_style { NBD_MOUNT_MANAGED, NBD_MOUNT_DIRECT };

/* The approach's options, parsed (nbd_opts in nbd.c). */
struct nbd_cfg {
	enum nbd_mount_style mount;
	char remote[256];             /* URI of the remote ("" = the scenario's remote side) */
	struct nbd_mount_opts mo;     /* conns, server_workers, attach, ready, blksize, timeout */
	struct managed_opts mgo;      /* chunk, pull_inflight, order, push_interval, retry */
	int remote_conns;             /* libnbd connections to the remote */
	int cache_file;               /* managed cache in a file under the scratch directory */
	int precopy_wait;             /* migration: finalize after the leecher's pull completed */
	uint64_t fault_seeder_kill;   /* test hook: the seeder kills its process after serving this many bytes */
};

struct nbd_seed;
struct nbd_leech;

/* The local side (source or destination). */
struct nbd_local {
	struct nbd_cfg cfg;
	const struct scenario *sc;
	struct remote *rm;            /* managed: the engine's remote (direct: owned by b) */
	struct managed *mg;           /* managed mount only */
	struct backend *b;            /* what the kernel's device is served from */
	struct nbd_mount mt;
	char cache_path[4096];
	struct nbd_seed *seed;        /* migration source: serving the leecher */
	struct nbd_leech *leech;      /* migration destination: the control listener */
	int leecher;                  /* the remote is a (read-only) seeder: set before nbd_local_start */
	struct backend_ops leech_ops; /* a leecher's device backend: the engine's but its flush (nbd_local.c) */
};

/* Parse and check every option. */
int nbd_parse_opts(const struct scenario *sc, struct nbd_cfg *c, struct err *e);
/* Connect to uri and mount it (managed or direct) as /dev/nbdX into r. */
int nbd_local_start(struct nbd_local *l, const char *uri, struct region *r, struct err *e);
/* Unmount and free everything (NULL is fine). */
void nbd_local_free(struct nbd_local *l);
/* Copy the engine's counters into the region. */
void nbd_local_counters(struct nbd_local *l, struct region *r);

/* Migration (nbd_migrate.c). Source: serve the leecher, track writes. */
int nbd_seed_start(struct nbd_local *l, struct err *e);
/* Destination: the leecher's device pulling from the source, and the control listener. */
int nbd_migrate_dest(const struct scenario *sc, struct region *r, struct err *e);
/* Source: finalize (pull done, suspend, flush, dirty list to the leecher). */
int nbd_migrate_source(struct region *r, struct migration *m, struct err *e);
/* Stop the seeder or the control listener. */
void nbd_migrate_stop(struct nbd_local *l);
/* A leecher (or any managed mount) seeds the next hop, whose addresses and
 * ports next gives (kept by pointer); its finalize is nbd_migrate_source(). */
int nbd_seed_next(struct region *r, const struct scenario *next, struct err *e);

#endif
