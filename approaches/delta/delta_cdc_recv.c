/*
 * delta_cdc_recv.c - the destination's half of a content-defined-chunking
 * cycle (HELLO mode DELTA_MODE_CDC).
 *
 * The copy's chunk list (FastCDC with the session's average, hashed with
 * its algorithm) is indexed by hash. Each RECIPE entry of the source is
 * looked up: first the copy's chunk at the same offset, then anywhere in
 * the copy; what is found is reused, the rest is asked for in WANT frames.
 * When every reused chunk stays where it is (in-place writes, the memory
 * region case) the missing chunks are written into the copy itself, like a
 * fixed-chunk cycle. Otherwise (bytes inserted or deleted, chunks moved)
 * the new file is assembled next to the copy (PATH.cdc-new) from the old
 * copy's chunks and the received ones, and renamed over it at END, so the
 * old copy stays intact until the new one is complete.
 */
#include "delta_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WANT_PER_FRAME 65536u      /* indexes per WANT frame */
#define CDC_IDLE_TIMEOUT_MS 60000  /* silence inside a cycle that ends the session */
#define NEW_SUFFIX ".cdc-new"
#define FROM_NONE UINT64_MAX        /* a recipe chunk the copy lacks */

/* One CDC cycle on the receiving side. */
struct cdc_rx {
	struct delta_store *s;
	struct delta_conn *c;
	unsigned algo, hl;
	uint64_t size;                 /* the new size */
	struct delta_cdc_list recipe;  /* the new file's chunks */
	uint64_t *from;                /* per recipe chunk: offset in the old copy, or FROM_NONE */
	uint32_t *want;                /* recipe chunks to receive, in order */
	uint64_t nwant, cap;           /* cap: room in from[] and want[] */
	const uint8_t *map;            /* the old copy */
	uint64_t map_size;
	struct delta_cdc_index idx;
	int inplace;
	int fd;                        /* where chunks go: the copy, or the new file (-1 before) */
	char tmp[sizeof ((struct delta_store *)0)->path + sizeof NEW_SUFFIX];
};

/* A protocol error: ERROR frame to the source, then the error. */
static int rx_fail(struct cdc_rx *rx, uint32_t code, const char *msg, struct err *e)
{
	delta_send_error(rx->c, code, msg);
	return err_set(e, "cdc cycle: %s", msg);
}

/* Map the old copy; chunk and index it unless the last cycle's list fits. */
static int rx_index_old(struct cdc_rx *rx, uint32_t avg, struct err *e)
{
	struct delta_store *s = rx->s;
	pthread_mutex_lock(&s->mu);
	uint64_t size = s->size;
	int fd = s->fd;
	pthread_mutex_unlock(&s->mu);
	rx->map = (const uint8_t *)"";
	if (size) {
		void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			return err_errno(e, errno, "cannot map %s", s->path);
		rx->map = p;
		rx->map_size = size;
	}
	if (!s->cdc_valid || s->cdc_avg != avg || s->cdc_algo != rx->algo) {
		struct delta_cdc cdc;
		if (delta_cdc_init(&cdc, avg, e) || delta_cdc_split(&cdc, rx->algo, rx->map, size, &s->cdc, e))
			return -1;
		s->cdc_avg = avg;
		s->cdc_algo = rx->algo;
		s->cdc_valid = 1;
	}
	return delta_cdc_index_build(&rx->idx, &s->cdc, rx->hl, e);
}

/* Where the copy holds a chunk: at the same offset, else anywhere, else FROM_NONE. */
static uint64_t rx_find(const struct cdc_rx *rx, const struct delta_cdc_chunk *ch)
{
	const struct delta_cdc_list *old = &rx->s->cdc;
	uint64_t lo = 0, hi = old->n;
	while (lo < hi) { /* the old chunk starting at ch->off, if any */
		uint64_t mid = lo + (hi - lo) / 2;
		if (old->c[mid].off < ch->off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < old->n && old->c[lo].off == ch->off && old->c[lo].len == ch->len &&
	    !memcmp(old->c[lo].h.b, ch->h.b, rx->hl))
		return ch->off;
	const struct delta_cdc_chunk *f = delta_cdc_index_find(&rx->idx, &ch->h, ch->len);
	return f ? f->off : FROM_NONE;
}

/* Make room for one more recipe chunk. */
static int rx_grow(struct cdc_rx *rx, struct err *e)
{
	if (rx->recipe.n < rx->cap)
		return 0;
	uint64_t cap = rx->cap ? rx->cap * 2 : 4096;
	uint64_t *f = realloc(rx->from, sizeof *f * cap);
	if (f)
		rx->from = f;
	uint32_t *w = f ? realloc(rx->want, sizeof *w * cap) : NULL;
	if (!w)
		return err_set(e, "out of memory for %llu chunks", (unsigned long long)cap);
	rx->want = w;
	rx->cap = cap;
	return 0;
}

/* Take one RECIPE frame: its chunks, where the copy has them, what to ask for. */
static int rx_take_recipe(struct cdc_rx *rx, const struct delta_msg *m, uint64_t *sum, struct err *e)
{
	if (m->type != DELTA_RECIPE)
		return rx_fail(rx, DELTA_ERR_SEQUENCE, "expected RECIPE", e);
	if (m->u.recipe.first != rx->recipe.n || m->u.recipe.hash_len != rx->hl)
		return rx_fail(rx, DELTA_ERR_PROTOCOL, "RECIPE out of order or with another hash length", e);
	for (uint32_t i = 0; i < m->u.recipe.count; i++) {
		const uint8_t *hash;
		uint32_t len = delta_recipe_entry(m, i, &hash);
		if (*sum + len > rx->size)
			return rx_fail(rx, DELTA_ERR_RANGE, "RECIPE chunks beyond BEGIN's size", e);
		delta_hash_t h = {{0}};
		memcpy(h.b, hash, rx->hl);
		if (rx_grow(rx, e) || delta_cdc_list_add(&rx->recipe, len, &h, e))
			return -1;
		uint64_t k = rx->recipe.n - 1;
		rx->from[k] = rx_find(rx, &rx->recipe.c[k]);
		if (rx->from[k] == FROM_NONE)
			rx->want[rx->nwant++] = (uint32_t)k;
		*sum += len;
	}
	return 0;
}

/* Read RECIPE frames until their chunks cover the new size. */
static int rx_read_recipe(struct cdc_rx *rx, struct err *e)
{
	for (uint64_t sum = 0; sum < rx->size;) {
		struct delta_msg m;
		if (delta_recv(rx->c, &m, CDC_IDLE_TIMEOUT_MS, e) || rx_take_recipe(rx, &m, &sum, e))
			return -1;
	}
	return 0;
}

/* Answer with the indexes of the missing chunks (at least one frame, the last flagged). */
static int rx_send_want(struct cdc_rx *rx, struct err *e)
{
	uint8_t hdr[64], *buf = malloc((size_t)WANT_PER_FRAME * 4);
	if (!buf)
		return err_set(e, "out of memory");
	int rc = 0;
	uint64_t at = 0;
	do {
		uint32_t cnt = rx->nwant - at < WANT_PER_FRAME ? (uint32_t)(rx->nwant - at) : WANT_PER_FRAME;
		for (uint32_t i = 0; i < cnt; i++)
			delta_enc_u32(buf + (size_t)i * 4, rx->want[at + i]);
		at += cnt;
		size_t k = delta_enc_want(hdr, cnt, at == rx->nwant);
		rc = delta_put(rx->c, hdr, k, e) || delta_put(rx->c, buf, (size_t)cnt * 4, e) ? -1 : 0;
	} while (!rc && at < rx->nwant);
	free(buf);
	return rc ? rc : delta_flush(rx->c, e);
}

/* Copy the reused chunks from the old copy into the new file, a run of
 * adjacent chunks at a time. */
static int rx_copy_reused(struct cdc_rx *rx, struct err *e)
{
	const struct delta_cdc_list *r = &rx->recipe;
	for (uint64_t i = 0; i < r->n;) {
		if (rx->from[i] == FROM_NONE) {
			i++;
			continue;
		}
		uint64_t j = i + 1, len = r->c[i].len;
		while (j < r->n && rx->from[j] == rx->from[i] + len)
			len += r->c[j++].len;
		if (pwrite(rx->fd, rx->map + rx->from[i], len, (off_t)r->c[i].off) != (ssize_t)len)
			return err_errno(e, errno, "cannot write %s", rx->tmp);
		rx->s->cdc_reused += len;
		i = j;
	}
	return 0;
}

/* Choose where the chunks go: the copy itself when nothing reused moved
 * (resized to the new size), else a new file with the reused chunks. */
static int rx_prepare(struct cdc_rx *rx, struct err *e)
{
	struct delta_store *s = rx->s;
	rx->inplace = 1;
	for (uint64_t i = 0; i < rx->recipe.n && rx->inplace; i++)
		rx->inplace = rx->from[i] == FROM_NONE || rx->from[i] == rx->recipe.c[i].off;
	if (rx->inplace) {
		pthread_mutex_lock(&s->mu);
		int rc = 0;
		if (s->size != rx->size && ftruncate(s->fd, (off_t)rx->size))
			rc = err_errno(e, errno, "cannot resize %s", s->path);
		else
			s->size = rx->size;
		rx->fd = s->fd;
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	struct stat st;
	if (fstat(s->fd, &st))
		return err_errno(e, errno, "fstat %s", s->path);
	snprintf(rx->tmp, sizeof rx->tmp, "%s" NEW_SUFFIX, s->path);
	rx->fd = open(rx->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
	if (rx->fd < 0)
		return err_errno(e, errno, "cannot create %s", rx->tmp);
	if (ftruncate(rx->fd, (off_t)rx->size))
		return err_errno(e, errno, "cannot size %s", rx->tmp);
	s->cdc_rebuilds++;
	return rx_copy_reused(rx, e);
}

/* Receive the wanted chunks, in WANT order, up to END; check END's counts. */
static int rx_recv_chunks(struct cdc_rx *rx, struct delta_msg *end, uint64_t *nchunks, uint64_t *bytes,
			  struct err *e)
{
	for (uint64_t j = 0;; j++) {
		if (delta_recv(rx->c, end, CDC_IDLE_TIMEOUT_MS, e))
			return -1;
		if (end->type == DELTA_END)
			break;
		if (end->type != DELTA_CHUNK)
			return rx_fail(rx, DELTA_ERR_SEQUENCE, "expected CHUNK or END", e);
		const struct delta_cdc_chunk *want = j < rx->nwant ? &rx->recipe.c[rx->want[j]] : NULL;
		if (!want || end->u.chunk.off != want->off || end->u.chunk.len != want->len)
			return rx_fail(rx, DELTA_ERR_RANGE, "CHUNK is not the next wanted chunk", e);
		if (pwrite(rx->fd, end->u.chunk.data, want->len, (off_t)want->off) != (ssize_t)want->len) {
			err_errno(e, errno, "cannot write %s", rx->inplace ? rx->s->path : rx->tmp);
			return delta_send_error(rx->c, DELTA_ERR_WRITE, "write failed"), -1;
		}
		(*nchunks)++;
		*bytes += want->len;
		rx->s->bytes_in += want->len;
	}
	if (end->u.end.nchunks != *nchunks || end->u.end.bytes != *bytes || *nchunks != rx->nwant)
		return rx_fail(rx, DELTA_ERR_COUNTS, "END counts do not match the wanted chunks", e);
	return 0;
}

/* The new file becomes the copy: rename it over the old one (unless the
 * cycle wrote in place) and keep the recipe as the copy's chunk list. */
static int rx_commit(struct cdc_rx *rx, struct err *e)
{
	struct delta_store *s = rx->s;
	int rc = 0;
	pthread_mutex_lock(&s->mu);
	if (!rx->inplace) {
		if (rename(rx->tmp, s->path) || dup3(rx->fd, s->fd, O_CLOEXEC) < 0)
			rc = err_errno(e, errno, "cannot replace %s with %s", s->path, rx->tmp);
		else
			s->size = rx->size;
	}
	s->hc_valid = 0;
	if (!rc) {
		delta_cdc_list_free(&s->cdc);
		s->cdc = rx->recipe;
		memset(&rx->recipe, 0, sizeof rx->recipe);
	}
	pthread_mutex_unlock(&s->mu);
	if (!rx->inplace && !rc) {
		close(rx->fd);
		rx->fd = -1;
		rx->tmp[0] = 0;
	}
	return rc;
}

/* Receive one CDC cycle after BEGIN. */
int delta_cdc_recv_cycle(struct delta_store *s, struct delta_conn *c, uint64_t size, uint32_t avg, unsigned algo,
			 struct delta_msg *end, uint64_t *nchunks, uint64_t *bytes, struct err *e)
{
	struct cdc_rx rx = {.s = s, .c = c, .algo = algo, .hl = delta_hash_len(algo), .size = size, .fd = -1};
	*nchunks = *bytes = 0;
	int rc = rx_index_old(&rx, avg, e) || rx_read_recipe(&rx, e) || rx_send_want(&rx, e) || rx_prepare(&rx, e) ||
		 rx_recv_chunks(&rx, end, nchunks, bytes, e) || rx_commit(&rx, e) ? -1 : 0;
	if (rc)
		s->cdc_valid = 0; /* the copy may be half written (in place) */
	if (rx.map_size)
		munmap((void *)rx.map, rx.map_size);
	if (!rx.inplace && rx.fd >= 0)
		close(rx.fd);
	if (rx.tmp[0])
		unlink(rx.tmp);
	delta_cdc_index_free(&rx.idx);
	delta_cdc_list_free(&rx.recipe);
	free(rx.from);
	free(rx.want);
	return rc;
}
