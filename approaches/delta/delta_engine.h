/*
 * delta_engine.h - the delta approach's moving parts, independent of the
 * harness: a destination store (a file) and its receiver, the sender that
 * runs cycles against one destination, and the hub that fans one source out
 * to N destinations.
 */
#ifndef MEMSYNC_DELTA_ENGINE_H
#define MEMSYNC_DELTA_ENGINE_H

#include <pthread.h>
#include <stdint.h>

#include "delta_hash.h"
#include "delta_net.h"
#include "err.h"

struct delta_hub;

/* A destination's copy of the region: a file, written chunk by chunk. */
struct delta_store {
	int fd;
	char path[4096];
	uint64_t size;
	pthread_mutex_t mu;
	uint64_t version;        /* last complete cycle */
	int mid_cycle;           /* a cycle was begun and not ended */
	int in_session;          /* a source is connected (a mid-cycle copy may still complete) */
	uint64_t cycles, bytes_in;
	int fault_drop_chunks;   /* test hook: drop the connection after N chunks, once */
	struct delta_tls sec;    /* TLS when delta_tls_on(&sec) (set before listening) */
	struct delta_hub *hub;   /* when this store is the hub's copy */
	/* Hash cache: hashes of the copy's chunks for the last session's chunk
	 * size and algorithm, kept current as chunks are written, so a
	 * reconnecting source gets the hash exchange without a rehash. */
	delta_hash_t *hc;
	uint64_t hc_n;
	uint32_t hc_chunk;
	unsigned hc_algo;
	int hc_valid;
	/* receiver thread */
	int lfd, port;
	volatile int stop;
	pthread_t th;
	int running;
	char addr[64];
	struct err err;          /* first error of a session (for logs and remote_read) */
};

/* Create or open the store file with the given size. */
int delta_store_open(struct delta_store *s, const char *path, uint64_t size, struct err *e);
/* Read from the copy (fails if a cycle is incomplete). */
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

/* Where a sender reads the source from. Reader is called with the store's
 * mutex semantics of the caller; base != NULL means a flat mapping. */
struct delta_view {
	const uint8_t *base;     /* mapping of the source (NULL: use read) */
	uint64_t size;
	/* copy [off, off+len) into buf; for non-mapped sources (the hub's copy) */
	int (*read)(void *ctx, void *buf, size_t len, uint64_t off, struct err *e);
	void *ctx;
};

/* A source's session with one destination. */
struct delta_sender {
	struct delta_conn c;
	int connected;
	char addr[64];
	int port;
	uint32_t chunk;
	unsigned algo, mode, workers; /* mode 0 chunks, 1 whole-file */
	delta_hash_t *remote, *local; /* what the destination holds; our last hashes */
	uint64_t remote_n, remote_size, cap;
	uint64_t cycle;
	uint64_t skipped;         /* cycles with nothing to send (not put on the wire) */
	/* statistics of the last cycle */
	uint64_t last_chunks, last_bytes, last_wire, last_hash_ns;
	uint64_t hash_wire;       /* bytes of hash exchange in the last connect */
	struct delta_tls sec;     /* TLS when delta_tls_on(&sec) */
	uint8_t *last_mask;       /* chunks sent in the last successful cycle */
	uint64_t last_n;
};

/* Initialise (no connection yet). */
int delta_sender_init(struct delta_sender *s, const char *addr, int port, uint32_t chunk, unsigned algo,
		      unsigned mode, unsigned workers, struct err *e);
/* Connect and exchange hashes (the destination's content becomes `remote`). */
int delta_sender_connect(struct delta_sender *s, uint64_t size, int timeout_ms, struct err *e);
/* One cycle. dirty == NULL: hash the whole view and send what differs;
 * else dirty[i] != 0 marks chunk i (pagemap tracking; hashes only those). */
int delta_sender_cycle(struct delta_sender *s, const struct delta_view *v, const uint8_t *dirty, struct err *e);
/* Close the connection (BYE when clean). */
void delta_sender_disconnect(struct delta_sender *s, int clean);
/* Free everything. */
void delta_sender_free(struct delta_sender *s);

/* The hub: receives cycles into its own store and fans them out. */
struct delta_hub_dest;
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
/* Called by the hub store's receiver (internal). */
void delta_hub_chunk_written(struct delta_hub *h, uint64_t off, uint64_t len);
int delta_hub_commit(struct delta_hub *h, uint64_t size, struct err *e);

#endif
