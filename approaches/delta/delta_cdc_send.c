/*
 * delta_cdc_send.c - the source's half of a content-defined-chunking cycle
 * (HELLO mode DELTA_MODE_CDC).
 *
 * The source cuts its mapped view with FastCDC and hashes each chunk; when
 * the list equals the one the destination acknowledged last, nothing goes
 * on the wire. Otherwise: BEGIN, the list as RECIPE frames (length + hash
 * per chunk), the destination's WANT frames (indexes of the chunks it
 * cannot find anywhere in its copy), those chunks as CHUNK frames at their
 * offsets in the new file, END, ACK. The destination's copy is never
 * hashed on this side: it matches chunks itself, by hash, at any offset,
 * so bytes inserted or deleted early in a file cost only the chunks around
 * the edit.
 */
#include "delta_sender.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define RECIPE_PER_FRAME 8192u      /* chunks per RECIPE frame */
#define WANT_TIMEOUT_MS 120000      /* a fresh destination chunks and hashes its copy first */

/* Does this cycle's chunk list equal the one the destination acknowledged? */
static int cdc_unchanged(const struct delta_sender *s, uint64_t size)
{
	const struct delta_cdc_list *a = &s->cdc_cur, *b = &s->cdc_acked;
	if (!s->cdc_acked_valid || size != s->remote_size || a->n != b->n)
		return 0;
	unsigned hl = delta_hash_len(s->algo);
	for (uint64_t i = 0; i < a->n; i++)
		if (a->c[i].len != b->c[i].len || memcmp(a->c[i].h.b, b->c[i].h.b, hl))
			return 0;
	return 1;
}

/* BEGIN, then the chunk list in RECIPE frames. */
static int cdc_send_recipe(struct delta_sender *s, uint64_t size, struct err *e)
{
	uint8_t hdr[64];
	const struct delta_cdc_list *l = &s->cdc_cur;
	unsigned hl = delta_hash_len(s->algo);
	uint8_t *buf = malloc((size_t)RECIPE_PER_FRAME * (4 + hl));
	if (!buf)
		return err_set(e, "out of memory");
	size_t k = delta_enc_begin(hdr, ++s->cycle, size);
	int rc = delta_put(&s->c, hdr, k, e);
	for (uint64_t first = 0; first < l->n && !rc; first += RECIPE_PER_FRAME) {
		uint32_t cnt = l->n - first < RECIPE_PER_FRAME ? (uint32_t)(l->n - first) : RECIPE_PER_FRAME;
		size_t at = 0;
		for (uint32_t i = 0; i < cnt; i++)
			at += delta_enc_recipe_entry(buf + at, l->c[first + i].len, l->c[first + i].h.b, (uint8_t)hl);
		k = delta_enc_recipe(hdr, first, cnt, (uint8_t)hl);
		rc = delta_put(&s->c, hdr, k, e) || delta_put(&s->c, buf, at, e) ? -1 : 0;
	}
	free(buf);
	return rc ? rc : delta_flush(&s->c, e);
}

/* The destination's WANT frames: ascending indexes into the list. */
static int cdc_recv_want(struct delta_sender *s, uint32_t **want, uint64_t *nwant, struct err *e)
{
	uint64_t n = s->cdc_cur.n, cap = 0;
	*nwant = 0;
	for (;;) {
		struct delta_msg m;
		if (delta_recv(&s->c, &m, WANT_TIMEOUT_MS, e))
			return -1;
		if (m.type != DELTA_WANT)
			return err_set(e, "expected WANT, got frame type %u", m.type);
		if (*nwant + m.u.want.count > cap) {
			cap = (*nwant + m.u.want.count) * 2;
			uint32_t *w = realloc(*want, sizeof *w * cap);
			if (!w)
				return err_set(e, "out of memory");
			*want = w;
		}
		for (uint32_t i = 0; i < m.u.want.count; i++) {
			uint32_t x = delta_want_index(&m, i);
			if (x >= n || (*nwant && x <= (*want)[*nwant - 1]))
				return err_set(e, "WANT index %u out of order or beyond %llu chunks", x, (unsigned long long)n);
			(*want)[(*nwant)++] = x;
		}
		if (m.u.want.last)
			return 0;
	}
}

/* The wanted chunks, END, and the destination's ACK. */
static int cdc_send_chunks(struct delta_sender *s, const uint8_t *base, const uint32_t *want, uint64_t nwant,
			   struct err *e)
{
	uint8_t out[64];
	uint64_t bytes = 0;
	for (uint64_t j = 0; j < nwant; j++) {
		const struct delta_cdc_chunk *ch = &s->cdc_cur.c[want[j]];
		size_t k = delta_enc_chunk(out, ch->off, ch->len);
		if (delta_put(&s->c, out, k, e) || delta_put(&s->c, base + ch->off, ch->len, e))
			return -1;
		bytes += ch->len;
	}
	struct delta_msg m;
	size_t k = delta_enc_end(out, s->cycle, nwant, bytes);
	if (delta_put(&s->c, out, k, e) || delta_recv(&s->c, &m, DELTA_ACK_TIMEOUT_MS, e))
		return -1;
	if (m.type != DELTA_ACK || m.u.ack.cycle != s->cycle || m.u.ack.status)
		return err_set(e, "expected ACK of cycle %llu, got frame type %u", (unsigned long long)s->cycle, m.type);
	s->last_chunks = nwant;
	s->last_bytes = bytes;
	return 0;
}

/* One CDC cycle: chunk the view, skip it when nothing changed, else the
 * RECIPE/WANT exchange and the wanted chunks; the list is adopted after the ACK. */
int delta_cdc_send_cycle(struct delta_sender *s, const struct delta_view *v, struct err *e)
{
	if (!v->base)
		return err_set(e, "content-defined chunks need a mapped source");
	uint64_t t0 = now_ns();
	int first = !s->cdc_acked_valid; /* since the connect (a failed cycle closes the connection) */
	if (delta_cdc_split(&s->cdc, s->algo, v->base, v->size, &s->cdc_cur, e))
		return -1;
	s->last_hash_ns = now_ns() - t0;
	s->last_chunks = s->last_bytes = s->last_meta = 0;
	if (cdc_unchanged(s, v->size)) {
		s->skipped++;
		return 0;
	}
	uint32_t *want = NULL;
	uint64_t nwant = 0, out0 = s->c.bytes_out, in0 = s->c.bytes_in;
	int rc = cdc_send_recipe(s, v->size, e) || cdc_recv_want(s, &want, &nwant, e) ? -1 : 0;
	s->last_meta = s->c.bytes_out - out0 + s->c.bytes_in - in0 - DELTA_HDR_LEN - 16; /* RECIPE + WANT, not BEGIN */
	if (!rc)
		rc = cdc_send_chunks(s, v->base, want, nwant, e);
	free(want);
	s->cdc_acked_valid = 0;
	if (rc)
		return -1;
	struct delta_cdc_list t = s->cdc_acked;
	s->cdc_acked = s->cdc_cur;
	s->cdc_cur = t;
	s->cdc_acked_valid = 1;
	s->remote_size = v->size;
	if (first) /* the hash exchange of a CDC session is its first cycle's RECIPE and WANT */
		s->hash_wire += s->last_meta;
	return 0;
}
