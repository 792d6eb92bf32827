/*
 * delta_sender.h - a source's session with one destination: connect and
 * exchange hashes, then cycles that send the chunks whose hashes differ
 * from what the destination holds.
 */
#ifndef MEMSYNC_DELTA_SENDER_H
#define MEMSYNC_DELTA_SENDER_H

#include <stdint.h>

#include "delta_cdc.h"
#include "delta_hash.h"
#include "delta_net.h"
#include "err.h"

/* How long a sender waits for a cycle's ACK (the hub waits as long for its
 * destinations before it acknowledges). */
#define DELTA_ACK_TIMEOUT_MS 120000

/* Whole region or chunks: the two modes of a sender. */
enum delta_mode {
	DELTA_MODE_CHUNKS = 0,     /* per-chunk hashes, changed chunks sent */
	DELTA_MODE_WHOLE_FILE = 1, /* one hash; any change resends the region */
	DELTA_MODE_CDC_CHUNKS = DELTA_MODE_CDC, /* content-defined chunks (chunk = their average) */
};

/* Where a sender reads the source from: a flat mapping (base != NULL), or
 * a read callback (the hub's copy, read under the hub store's lock). */
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
	unsigned algo, mode, workers; /* mode: enum delta_mode */
	uint16_t file_mode;       /* permission bits of the source file, sent in HELLO (0: none) */
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
	/* content-defined chunks: the parameters, this cycle's chunks, the
	 * chunks the destination acknowledged last, the RECIPE + WANT bytes */
	struct delta_cdc cdc;
	struct delta_cdc_list cdc_cur, cdc_acked;
	int cdc_acked_valid;
	uint64_t last_meta;
};

/* Initialise (no connection yet). */
int delta_sender_init(struct delta_sender *s, const char *addr, int port, uint32_t chunk, unsigned algo,
		      unsigned mode, unsigned workers, struct err *e);
/* Connect and exchange hashes (the destination's content becomes `remote`). */
int delta_sender_connect(struct delta_sender *s, uint64_t size, int timeout_ms, struct err *e);
/* One cycle. dirty == NULL: hash the whole view and send what differs;
 * else dirty[i] != 0 marks chunk i (pagemap tracking; hashes only those). */
int delta_sender_cycle(struct delta_sender *s, const struct delta_view *v, const uint8_t *dirty, struct err *e);
/* The name of a mode (chunks, whole-file, cdc). */
const char *delta_mode_name(unsigned mode);
/* One content-defined-chunking cycle (delta_cdc_send.c; called by
 * delta_sender_cycle for DELTA_MODE_CDC_CHUNKS, needs a mapped view). */
int delta_cdc_send_cycle(struct delta_sender *s, const struct delta_view *v, struct err *e);
/* Close the connection (BYE when clean). */
void delta_sender_disconnect(struct delta_sender *s, int clean);
/* Free everything. */
void delta_sender_free(struct delta_sender *s);

#endif
