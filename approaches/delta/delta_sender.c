/*
 * delta_sender.c - a source's session with one destination.
 *
 * Connect + hash exchange gives `remote` (what the destination holds). Each
 * cycle finds the chunks to send - hashing the source with worker threads,
 * or hashing only the chunks the kernel reported dirty - sends them between
 * BEGIN and END, and adopts the new hashes as `remote` only after the ACK.
 * A mapped source is hashed in segments whose changed chunks are queued
 * before the next segment is hashed, so hashing overlaps the transfer.
 */
#include "delta_sender.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

#define HELLO_REPLY_TIMEOUT_MS 60000 /* the destination hashes its copy before it answers */
#define STREAM_SEGMENT (32u << 20)   /* bytes hashed before their changed chunks are queued */

/* Initialise a sender. */
int delta_sender_init(struct delta_sender *s, const char *addr, int port, uint32_t chunk, unsigned algo,
		      unsigned mode, unsigned workers, struct err *e)
{
	memset(s, 0, sizeof *s);
	s->c.fd = -1;
	snprintf(s->addr, sizeof s->addr, "%s", addr);
	s->port = port;
	s->chunk = chunk;
	s->algo = algo;
	s->mode = mode;
	s->workers = workers;
	if (mode == DELTA_MODE_CDC_CHUNKS)
		return delta_cdc_init(&s->cdc, chunk, e);
	return 0;
}

/* The name of a mode. */
const char *delta_mode_name(unsigned mode)
{
	static const char *const names[] = {"chunks", "whole-file", "cdc"};
	return mode <= DELTA_MODE_CDC_CHUNKS ? names[mode] : "?";
}

/* Make room for n hashes. */
static int sender_reserve(struct delta_sender *s, uint64_t n, struct err *e)
{
	if (n <= s->cap)
		return 0;
	delta_hash_t *r = realloc(s->remote, sizeof *r * n), *l;
	if (!r)
		return err_set(e, "out of memory for %llu hashes", (unsigned long long)n);
	s->remote = r;
	l = realloc(s->local, sizeof *l * n);
	if (!l)
		return err_set(e, "out of memory for %llu hashes", (unsigned long long)n);
	s->local = l;
	memset(s->remote + s->cap, 0, sizeof *r * (n - s->cap));
	memset(s->local + s->cap, 0, sizeof *l * (n - s->cap));
	s->cap = n;
	return 0;
}

/* Receive the destination's `want` hashes (HASHES frames in order) into remote. */
static int sender_recv_hashes(struct delta_sender *s, uint64_t want, struct err *e)
{
	unsigned hl = delta_hash_len(s->algo);
	struct delta_msg m;
	for (uint64_t got = 0; got < want;) {
		if (delta_recv(&s->c, &m, HELLO_REPLY_TIMEOUT_MS, e))
			return -1;
		if (m.type != DELTA_HASHES || m.u.hashes.first != got || m.u.hashes.hash_len != hl ||
		    got + m.u.hashes.count > want || !m.u.hashes.count)
			return err_set(e, "bad HASHES frame in the hash exchange (type %u, first %llu, expected %llu)",
				       m.type, (unsigned long long)m.u.hashes.first, (unsigned long long)got);
		for (uint32_t i = 0; i < m.u.hashes.count; i++) {
			memset(&s->remote[got + i], 0, sizeof s->remote[0]);
			memcpy(s->remote[got + i].b, m.u.hashes.hashes + (size_t)i * hl, hl);
		}
		got += m.u.hashes.count;
	}
	return 0;
}

/* Connect and exchange hashes. */
int delta_sender_connect(struct delta_sender *s, uint64_t size, int timeout_ms, struct err *e)
{
	uint8_t out[64];
	struct delta_msg m;
	if (delta_connect(&s->c, s->addr, s->port, timeout_ms, e))
		return -1;
	if (delta_tls_on(&s->sec) && delta_tls_start(&s->c, &s->sec, 0, e))
		goto fail;
	size_t k = delta_enc_hello(out, size, s->chunk, (uint8_t)s->algo, (uint8_t)s->mode, s->file_mode,
				   (uint64_t)getpid());
	if (delta_put(&s->c, out, k, e) || delta_recv(&s->c, &m, HELLO_REPLY_TIMEOUT_MS, e))
		goto fail;
	if (m.type != DELTA_HELLO_REPLY) {
		err_set(e, "expected HELLO_REPLY, got frame type %u", m.type);
		goto fail;
	}
	if (m.u.reply.chunk != s->chunk || m.u.reply.algo != s->algo) {
		err_set(e, "destination answered with chunk %u / algorithm %u, not %u / %u", m.u.reply.chunk,
			m.u.reply.algo, s->chunk, s->algo);
		goto fail;
	}
	uint64_t n = m.u.reply.nchunks, whole = s->mode == DELTA_MODE_WHOLE_FILE;
	s->remote_size = m.u.reply.size;
	if (s->mode == DELTA_MODE_CDC_CHUNKS) /* no HASHES: each cycle's RECIPE does the matching */
		n = 0;
	else if (sender_reserve(s, (n ? n : 1), e) || sender_recv_hashes(s, whole ? 1 : n, e))
		goto fail;
	s->remote_n = whole ? (n ? 1 : 0) : n;
	s->cdc_acked_valid = 0;
	s->hash_wire = s->c.bytes_in + s->c.bytes_out;
	s->connected = 1;
	return 0;
fail:
	delta_conn_close(&s->c);
	return -1;
}

/* One cycle in the making. */
struct cycle {
	const struct delta_view *v;
	uint64_t size, n;        /* the source's size and chunk count */
	uint64_t id;             /* cycle number once BEGIN went out */
	uint64_t nchunks, bytes; /* queued so far */
	uint64_t streamed;       /* chunks [0, streamed) were hashed and queued already */
	uint64_t hash_ns;        /* time spent hashing while streaming */
	uint8_t *mask;           /* chunks to send */
	uint8_t *tmp;            /* one chunk, for a view without a mapping */
	int begun;
};

/* Length of chunk i of a region of size bytes. */
static uint64_t chunk_len(uint64_t size, uint64_t chunk, uint64_t i)
{
	uint64_t off = i * chunk;
	return size - off < chunk ? size - off : chunk;
}

/* Must chunk i go out? Its hash differs from the destination's, the
 * destination lacks it, or it is the destination's last chunk and the
 * size changed. */
static int chunk_differs(const struct delta_sender *s, uint64_t i, uint64_t size)
{
	return i >= s->remote_n || memcmp(&s->local[i], &s->remote[i], sizeof s->local[i]) ||
	       (i == s->remote_n - 1 && size != s->remote_size);
}

/* Copy or point at [off, off+len) of the view. */
static const uint8_t *view_at(const struct delta_view *v, uint8_t *tmp, uint64_t off, size_t len, struct err *e)
{
	if (v->base)
		return v->base + off;
	return v->read(v->ctx, tmp, len, off, e) ? NULL : tmp;
}

/* Start the cycle on the wire (once): BEGIN with the source's size. */
static int cycle_begin(struct delta_sender *s, struct cycle *cy, struct err *e)
{
	uint8_t out[64];
	if (cy->begun)
		return 0;
	cy->id = ++s->cycle;
	cy->begun = 1;
	size_t k = delta_enc_begin(out, cy->id, cy->size);
	return delta_put(&s->c, out, k, e);
}

/* Queue the chunks in [from, to) that the mask marks, counting them. */
static int cycle_send(struct delta_sender *s, struct cycle *cy, uint64_t from, uint64_t to, struct err *e)
{
	uint8_t out[64];
	for (uint64_t i = from; i < to; i++) {
		if (!cy->mask[i])
			continue;
		uint64_t off = i * s->chunk, len = chunk_len(cy->size, s->chunk, i);
		const uint8_t *p = view_at(cy->v, cy->tmp, off, len, e);
		if (!p)
			return -1;
		size_t k = delta_enc_chunk(out, off, (uint32_t)len);
		if (delta_put(&s->c, out, k, e) || delta_put(&s->c, p, len, e))
			return -1;
		cy->nchunks++;
		cy->bytes += len;
	}
	return 0;
}

/* Whole-file mode: one hash of the region; any change sends every chunk. */
static int pick_whole_file(struct delta_sender *s, struct cycle *cy, struct err *e)
{
	delta_hash_t h;
	if (!cy->v->base)
		return err_set(e, "whole-file mode needs a mapped source");
	delta_hash(s->algo, cy->size ? cy->v->base : (const uint8_t *)"", cy->size, &h);
	s->local[0] = h;
	if (cy->size != s->remote_size || !s->remote_n || memcmp(&h, &s->remote[0], sizeof h))
		memset(cy->mask, 1, cy->n);
	return 0;
}

/* Dirty list (pagemap tracking): hash only the marked chunks and those a
 * size change touches. */
static int pick_dirty(struct delta_sender *s, struct cycle *cy, const uint8_t *dirty, struct err *e)
{
	uint64_t size = cy->size, n = cy->n;
	for (uint64_t i = 0; i < n; i++) {
		int resized = size != s->remote_size && (i == n - 1 || i == s->remote_n - 1);
		if (!(i >= s->remote_n || dirty[i] || resized))
			continue;
		uint64_t len = chunk_len(size, s->chunk, i);
		const uint8_t *p = view_at(cy->v, cy->tmp, i * s->chunk, len, e);
		if (!p)
			return -1;
		delta_hash(s->algo, p, len, &s->local[i]);
		cy->mask[i] = chunk_differs(s, i, size);
	}
	return 0;
}

/* Mapped source: hash in segments and queue each segment's changed chunks
 * before hashing the next, so the socket, the link and the receiver work
 * on them while this thread hashes on. */
static int stream_mapped(struct delta_sender *s, struct cycle *cy, struct err *e)
{
	uint64_t n = cy->n, seg = STREAM_SEGMENT / s->chunk ? STREAM_SEGMENT / s->chunk : 1;
	for (uint64_t first = 0; first < n; first += seg) {
		uint64_t cnt = n - first < seg ? n - first : seg, h0 = now_ns();
		delta_hash_chunks(s->algo, cy->v->base, cy->size, s->chunk, first, cnt, s->workers, s->local + first);
		cy->hash_ns += now_ns() - h0;
		for (uint64_t i = first; i < first + cnt; i++)
			cy->mask[i] = chunk_differs(s, i, cy->size);
		if (!memchr(cy->mask + first, 1, cnt))
			continue;
		if (cycle_begin(s, cy, e) || cycle_send(s, cy, first, first + cnt, e))
			return -1;
	}
	cy->streamed = n;
	return 0;
}

/* Source behind a read callback (the hub's copy): read and hash every chunk. */
static int pick_by_read(struct delta_sender *s, struct cycle *cy, struct err *e)
{
	for (uint64_t i = 0; i < cy->n; i++) {
		uint64_t len = chunk_len(cy->size, s->chunk, i);
		if (cy->v->read(cy->v->ctx, cy->tmp, len, i * s->chunk, e))
			return -1;
		delta_hash(s->algo, cy->tmp, len, &s->local[i]);
	}
	for (uint64_t i = 0; i < cy->n; i++)
		cy->mask[i] = chunk_differs(s, i, cy->size);
	return 0;
}

/* Send what is not queued yet, END, and wait for the destination's ACK. */
static int cycle_finish(struct delta_sender *s, struct cycle *cy, struct err *e)
{
	uint8_t out[64];
	struct delta_msg m;
	if (cycle_begin(s, cy, e) || cycle_send(s, cy, cy->streamed, cy->n, e))
		return -1;
	size_t k = delta_enc_end(out, cy->id, cy->nchunks, cy->bytes);
	if (delta_put(&s->c, out, k, e) || delta_recv(&s->c, &m, DELTA_ACK_TIMEOUT_MS, e))
		return -1;
	if (m.type != DELTA_ACK || m.u.ack.cycle != cy->id || m.u.ack.status)
		return err_set(e, "expected ACK of cycle %llu, got frame type %u", (unsigned long long)cy->id, m.type);
	return 0;
}

/* The destination now holds what we sent: adopt those hashes as `remote`. */
static void cycle_adopt(struct delta_sender *s, struct cycle *cy, const uint8_t *dirty)
{
	if (s->mode == DELTA_MODE_WHOLE_FILE) {
		s->remote[0] = s->local[0];
		s->remote_n = 1;
	} else {
		for (uint64_t i = 0; i < cy->n; i++)
			if (cy->mask[i] || (dirty && dirty[i]))
				s->remote[i] = s->local[i];
		s->remote_n = cy->n;
	}
	s->remote_size = cy->size;
	s->last_chunks = cy->nchunks;
	s->last_bytes = cy->bytes;
	free(s->last_mask);
	s->last_mask = cy->mask;
	s->last_n = cy->n;
	cy->mask = NULL;
}

/* Find the chunks to send; a mapped source is streamed out already. */
static int cycle_pick(struct delta_sender *s, struct cycle *cy, const uint8_t *dirty, struct err *e)
{
	if (s->mode == DELTA_MODE_WHOLE_FILE)
		return pick_whole_file(s, cy, e);
	if (dirty)
		return pick_dirty(s, cy, dirty, e);
	if (cy->v->base)
		return stream_mapped(s, cy, e);
	return pick_by_read(s, cy, e);
}

/* One cycle against the destination. */
int delta_sender_cycle(struct delta_sender *s, const struct delta_view *v, const uint8_t *dirty, struct err *e)
{
	struct cycle cy = {.v = v, .size = v->size, .n = (v->size + s->chunk - 1) / s->chunk};
	if (!s->connected)
		return err_set(e, "not connected");
	uint64_t wire0 = s->c.bytes_out + s->c.bytes_in, t0 = now_ns();
	if (s->mode == DELTA_MODE_CDC_CHUNKS) {
		int rc = delta_cdc_send_cycle(s, v, e);
		if (rc) {
			delta_conn_close(&s->c);
			s->connected = 0;
		} else {
			s->last_wire = s->c.bytes_out + s->c.bytes_in - wire0;
		}
		return rc;
	}
	if (sender_reserve(s, cy.n ? cy.n : 1, e))
		return -1;
	cy.mask = calloc(cy.n ? cy.n : 1, 1);
	cy.tmp = v->base ? NULL : malloc(s->chunk);
	int rc = !cy.mask || (!v->base && !cy.tmp) ? err_set(e, "out of memory") : cycle_pick(s, &cy, dirty, e);
	if (!rc) {
		s->last_hash_ns = cy.streamed ? cy.hash_ns : now_ns() - t0;
		uint64_t held = s->mode == DELTA_MODE_WHOLE_FILE ? 1 : cy.n;
		if (!cy.begun && !memchr(cy.mask, 1, cy.n) && cy.size == s->remote_size && held == s->remote_n)
			/* Nothing changed since the last ACK: the destination already
			 * holds this state, so no cycle goes on the wire (and its copy
			 * is never marked mid-cycle by an empty one). */
			s->skipped++;
		else
			rc = cycle_finish(s, &cy, e);
	}
	if (!rc) {
		cycle_adopt(s, &cy, dirty);
		s->last_wire = s->c.bytes_out + s->c.bytes_in - wire0;
	} else {
		/* The destination's state is unknown now: reconnect for a fresh hash exchange. */
		delta_conn_close(&s->c);
		s->connected = 0;
	}
	free(cy.mask);
	free(cy.tmp);
	return rc;
}

/* Close the connection. */
void delta_sender_disconnect(struct delta_sender *s, int clean)
{
	if (!s->connected)
		return;
	if (clean) {
		uint8_t out[DELTA_HDR_LEN];
		struct err e = {0};
		size_t k = delta_enc_bye(out);
		if (!delta_put(&s->c, out, k, &e))
			delta_flush(&s->c, &e);
	}
	delta_conn_close(&s->c);
	s->connected = 0;
}

/* Free everything. */
void delta_sender_free(struct delta_sender *s)
{
	delta_sender_disconnect(s, 1);
	free(s->remote);
	free(s->local);
	free(s->last_mask);
	s->last_mask = NULL;
	delta_cdc_list_free(&s->cdc_cur);
	delta_cdc_list_free(&s->cdc_acked);
	s->remote = s->local = NULL;
	s->cap = 0;
}
