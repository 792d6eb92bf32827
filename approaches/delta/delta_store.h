/*
 * delta_store.h - a destination of the delta approach: its copy of the
 * region (a file, written chunk by chunk) and the receiver that applies a
 * source's cycles to it, one session at a time.
 */
#ifndef MEMSYNC_DELTA_STORE_H
#define MEMSYNC_DELTA_STORE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "delta_cdc.h"
#include "delta_hash.h"
#include "delta_net.h"
#include "err.h"

/* What the receiver tells the store's owner (the hub) while it applies a
 * cycle; every hook is optional. */
struct delta_store_hooks {
	void (*resized)(void *ctx, uint64_t size);              /* BEGIN set the size */
	void (*written)(void *ctx, uint64_t off, uint64_t len); /* a CHUNK was written */
	int (*commit)(void *ctx, struct err *e);                /* END: before the ACK goes out */
	void *ctx;
};

/* A destination's copy of the region: a file, written chunk by chunk. */
struct delta_store {
	int fd;
	char path[4096];
	uint64_t size;
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* signalled when a cycle ends or a session closes */
	uint64_t version;        /* last complete cycle */
	int mid_cycle;           /* a cycle was begun and not ended */
	int in_session;          /* a source is connected (a mid-cycle copy may still complete) */
	int created;             /* delta_store_open created the file (a source may give it its mode) */
	uint64_t cycles, bytes_in;
	int fault_drop_chunks;   /* test hook: drop the connection after N chunks, once */
	struct delta_tls sec;    /* TLS when delta_tls_on(&sec) (set before listening) */
	struct delta_store_hooks hooks;
	/* Hash cache: hashes of the copy's chunks for the last session's chunk
	 * size and algorithm, kept current as chunks are written, so a
	 * reconnecting source gets the hash exchange without a rehash. */
	delta_hash_t *hc;
	uint64_t hc_n;
	uint32_t hc_chunk;
	unsigned hc_algo;
	int hc_valid;
	/* CDC sessions: the copy's chunk list (average cdc_avg, hash cdc_algo),
	 * kept as the last cycle's recipe so the next cycle needs no rechunking. */
	struct delta_cdc_list cdc;
	uint32_t cdc_avg;
	unsigned cdc_algo;
	int cdc_valid;
	uint64_t cdc_reused, cdc_rebuilds; /* bytes taken from the old copy; cycles that rebuilt the file */
	/* receiver thread */
	int lfd, port;
	volatile int stop;
	pthread_t th;
	int running;
	char addr[64];
	struct err err;          /* first error of a session (for logs and remote_read) */
};

/* Create (mode 0644, before the umask) or open the store file with the given size. */
int delta_store_open(struct delta_store *s, const char *path, uint64_t size, struct err *e);
/* Read from the copy; waits for a cycle whose source is still connected,
 * fails if the copy was left mid-cycle. */
int delta_store_read(struct delta_store *s, void *buf, size_t len, uint64_t off, struct err *e);
/* Close the file. */
void delta_store_close(struct delta_store *s);
/* Serve one source session on a connection until BYE or an error. */
int delta_recv_session(struct delta_store *s, struct delta_conn *c, struct err *e);
/* Send an ERROR frame and drain the peer briefly before closing. */
void delta_linger_error(struct delta_conn *c, const char *msg);
/* Start a receiver thread listening on addr:*port (0 = pick, stored). */
int delta_store_listen(struct delta_store *s, const char *addr, int *port, struct err *e);
/* Stop the receiver thread. */
void delta_store_stop(struct delta_store *s);

/* The receiving half of a content-defined-chunking cycle, after BEGIN
 * (size: the new size): read the RECIPE, answer WANT, receive the CHUNKs up
 * to END (left in *end), check END's counts, and make the copy the new file
 * (in place when no reused chunk moved, else a rebuilt file renamed over
 * it). *nchunks and *bytes: the chunks received (delta_cdc_recv.c). */
int delta_cdc_recv_cycle(struct delta_store *s, struct delta_conn *c, uint64_t size, uint32_t avg, unsigned algo,
			 struct delta_msg *end, uint64_t *nchunks, uint64_t *bytes, struct err *e);

/* An absolute deadline ms from now, for pthread_cond_timedwait (CLOCK_REALTIME). */
void delta_deadline(struct timespec *dl, unsigned ms);

#endif
