/*
 * delta_hub.h - the hub: receives a source's cycles into its own store and
 * fans them out to N destinations (receivers on loopback), acknowledging a
 * cycle to the source only when every joined destination has it.
 */
#ifndef MEMSYNC_DELTA_HUB_H
#define MEMSYNC_DELTA_HUB_H

#include <pthread.h>
#include <stdint.h>

#include "delta_sender.h"
#include "delta_store.h"

struct delta_hub_dest;

/* The hub: its copy (where the source connects) and its destinations. */
struct delta_hub {
	struct delta_store store;     /* the hub's copy; the source connects here */
	int ndests;
	struct delta_hub_dest *dests;
	uint32_t chunk;
	unsigned algo, workers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t version;             /* committed cycles at the hub */
	uint64_t *stamp;              /* per hub chunk: version that last changed it */
	uint64_t nstamp;
	volatile int stop;
};

/* One destination of a hub. */
struct delta_hub_dest {
	struct delta_hub *hub;
	int idx;
	struct delta_store store;   /* the destination (a receiver on loopback) */
	struct delta_sender snd;    /* the hub's sender to it */
	uint64_t version;           /* hub version it acknowledged */
	int joined;                 /* initial sync done */
	unsigned delay_ms;
	pthread_t th;
	int started;
};

/* Start a hub: its store at dir/delta-hub, N destinations (threads with
 * their own stores dir/delta-dest-K listening on loopback), the last one
 * joining late_ms later. prepare(path) creates each initial copy. */
int delta_hub_start(struct delta_hub *h, const char *dir, const char *addr, int *port, uint64_t size, int ndests,
		    uint32_t chunk, unsigned algo, unsigned workers, unsigned late_ms, const struct delta_tls *tls,
		    int (*prepare)(const char *path, int idx, void *ctx, struct err *e), void *ctx, struct err *e);
/* Read the hub's copy after every destination caught up; fails naming the
 * first destination that differs. */
int delta_hub_read(struct delta_hub *h, void *buf, size_t len, uint64_t off, struct err *e);
/* Stop everything. */
void delta_hub_stop(struct delta_hub *h);

#endif
