/*
 * delta_engine.c - destination store and receiver, sender cycles, hub.
 *
 * Receiver: HELLO -> HELLO_REPLY + HASHES of its current copy; then cycles
 * BEGIN (resize to the source's size) / CHUNK (pwrite) / END (check counts)
 * -> ACK. A store that saw BEGIN without END is marked mid-cycle and refuses
 * to be read, so a destination that lost its source mid-cycle is never
 * taken for in sync; the next session's hash exchange repairs it.
 *
 * Sender: connect + hash exchange gives `remote` (what the destination
 * holds); each cycle hashes the source (worker threads) or takes the dirty
 * chunks from the kernel, sends what differs, and adopts the new hashes as
 * `remote` only after the ACK.
 *
 * Hub: its store receives from the source; every chunk written stamps the
 * hub chunks it covers with the pending version; END commits the version
 * and waits until every joined destination acknowledged it before the
 * source gets its ACK. One thread per destination: connect + hash exchange
 * against the hub's copy (a full initial sync for a late joiner, reading
 * chunk by chunk under the hub's lock, so others are not stalled), then it
 * sends every chunk stamped after the destination's version.
 */
#include "delta_engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define ACK_TIMEOUT_MS 120000
#define HASHES_PER_FRAME 8192u
#define STREAM_SEGMENT (32u << 20) /* bytes hashed before their changed chunks are queued */

/* ---- store ---------------------------------------------------------------- */

/* Create or open the store file with the given size. */
int delta_store_open(struct delta_store *s, const char *path, uint64_t size, struct err *e)
{
	memset(s, 0, sizeof *s);
	s->lfd = -1;
	snprintf(s->path, sizeof s->path, "%s", path);
	s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return err_errno(e, errno, "cannot open %s", path);
	struct stat st;
	if (fstat(s->fd, &st))
		return err_errno(e, errno, "fstat %s", path);
	if ((uint64_t)st.st_size != size && ftruncate(s->fd, (off_t)size))
		return err_errno(e, errno, "cannot size %s", path);
	s->size = size;
	pthread_mutex_init(&s->mu, NULL);
	/* A marker left by a receiver that died mid-cycle: the copy is partial
	 * until a complete cycle (after a hash exchange) replaces it. */
	char mk[4200];
	snprintf(mk, sizeof mk, "%s.incomplete", s->path);
	if (access(mk, F_OK) == 0) {
		s->mid_cycle = 1;
		log_warn("delta: %s was left mid-cycle by an earlier receiver; it is stale until the next cycle", path);
	}
	return 0;
}

/* Mark (or unmark) the copy as mid-cycle on disk too. */
static void store_marker(struct delta_store *s, int on)
{
	char mk[4200];
	snprintf(mk, sizeof mk, "%s.incomplete", s->path);
	if (on) {
		int fd = open(mk, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	} else {
		unlink(mk);
	}
}

/* Read from the copy. */
int delta_store_read(struct delta_store *s, void *buf, size_t len, uint64_t off, struct err *e)
{
	pthread_mutex_lock(&s->mu);
	/* A cycle in progress with its source still connected ends soon: wait
	 * for it (up to a minute) rather than calling the copy incomplete. */
	for (int waited = 0; s->mid_cycle && s->in_session && waited < 60000; waited++) {
		pthread_mutex_unlock(&s->mu);
		usleep(1000);
		pthread_mutex_lock(&s->mu);
	}
	int rc = 0;
	if (s->mid_cycle)
		rc = err_set(e, "destination %s is mid-cycle (its source disconnected before the cycle ended)", s->path);
	else if (off + len > s->size)
		rc = err_set(e, "destination %s holds %llu bytes, read of %zu at %llu", s->path,
			     (unsigned long long)s->size, len, (unsigned long long)off);
	else if (pread(s->fd, buf, len, (off_t)off) != (ssize_t)len)
		rc = err_errno(e, errno, "cannot read %s", s->path);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Close the file. */
void delta_store_close(struct delta_store *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->hc);
	s->hc = NULL;
	s->hc_valid = 0;
	pthread_mutex_destroy(&s->mu);
}

/* Send the hashes of the store's content for one session: map the copy,
 * hash every chunk with two threads, send them in HASHES frames. */
static int store_send_hashes(struct delta_store *s, struct delta_conn *c, uint32_t chunk, unsigned algo,
			     unsigned mode, struct err *e)
{
	unsigned hl = delta_hash_len(algo);
	uint8_t hdr[64];
	pthread_mutex_lock(&s->mu);
	uint64_t size = s->size;
	uint64_t n = mode ? 1 : (size + chunk - 1) / chunk;
	const uint8_t *map = (const uint8_t *)"";
	int mapped = 0;
	delta_hash_t *hs = calloc(n ? n : 1, sizeof *hs);
	uint8_t *out = malloc((size_t)hl * HASHES_PER_FRAME);
	int rc = 0;
	if (size && !(!mode && s->hc_valid && s->hc_chunk == chunk && s->hc_algo == algo && s->hc_n == n)) {
		void *p = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, s->fd, 0);
		if (p == MAP_FAILED)
			rc = err_errno(e, errno, "cannot map %s", s->path);
		else
			map = p, mapped = 1;
	}
	if (!rc && (!hs || !out))
		rc = err_set(e, "out of memory");
	int cached = !rc && !mode && s->hc_valid && s->hc_chunk == chunk && s->hc_algo == algo && s->hc_n == n;
	if (cached) {
		memcpy(hs, s->hc, sizeof *hs * n);
	} else if (!rc) {
		if (mode)
			delta_hash(algo, map, size, &hs[0]);
		else
			delta_hash_chunks(algo, map, size, chunk, 0, n, 2, hs);
	}
	if (!rc && !cached && !mode) { /* keep them for the next session */
		free(s->hc);
		s->hc = malloc(sizeof *hs * (n ? n : 1));
		s->hc_valid = s->hc != NULL;
		if (s->hc)
			memcpy(s->hc, hs, sizeof *hs * n);
		s->hc_n = n;
		s->hc_chunk = chunk;
		s->hc_algo = algo;
	}
	if (mapped)
		munmap((void *)map, size);
	pthread_mutex_unlock(&s->mu);
	for (uint64_t first = 0; first < n && !rc; first += HASHES_PER_FRAME) {
		uint64_t cnt = n - first < HASHES_PER_FRAME ? n - first : HASHES_PER_FRAME;
		for (uint64_t i = 0; i < cnt; i++)
			memcpy(out + i * hl, hs[first + i].b, hl);
		size_t k = delta_enc_hashes(hdr, first, (uint32_t)cnt, (uint8_t)hl);
		rc = delta_put(c, hdr, k, e) || delta_put(c, out, cnt * hl, e) ? -1 : 0;
	}
	free(hs);
	free(out);
	return rc ? rc : delta_flush(c, e);
}

/* Resize the store (under its lock). */
static int store_resize(struct delta_store *s, uint64_t size, struct err *e)
{
	if (size == s->size)
		return 0;
	if (ftruncate(s->fd, (off_t)size))
		return err_errno(e, errno, "cannot resize %s to %llu", s->path, (unsigned long long)size);
	s->size = size;
	s->hc_valid = 0;
	return 0;
}

/* Serve one source session. */
int delta_recv_session(struct delta_store *s, struct delta_conn *c, struct err *e)
{
	struct delta_msg m;
	uint8_t out[64];
	if (delta_recv(c, &m, 30000, e))
		return -1;
	if (m.type != DELTA_HELLO) {
		delta_send_error(c, 1, "expected HELLO");
		return err_set(e, "expected HELLO, got frame type %u", m.type);
	}
	uint32_t chunk = m.u.hello.chunk;
	unsigned algo = m.u.hello.algo, mode = m.u.hello.mode;
	pthread_mutex_lock(&s->mu);
	uint64_t size = s->size;
	pthread_mutex_unlock(&s->mu);
	uint64_t n = mode ? 1 : (size + chunk - 1) / chunk;
	if (mode)
		n = (size + chunk - 1) / chunk; /* the reply states the size; HASHES carries one hash */
	size_t k = delta_enc_reply(out, size, chunk, (uint8_t)algo, 0, n);
	if (delta_put(c, out, k, e) || store_send_hashes(s, c, chunk, algo, mode, e))
		return -1;
	uint64_t cycle = 0, got_chunks = 0, got_bytes = 0;
	int in_cycle = 0, dropped = 0;
	for (;;) {
		if (s->stop)
			return 0;
		if (delta_recv(c, &m, in_cycle ? 60000 : -1, e)) {
			if (in_cycle)
				err_set(e, "source disconnected mid-cycle %llu", (unsigned long long)cycle);
			return -1;
		}
		switch (m.type) {
		case DELTA_BEGIN:
			if (in_cycle)
				return delta_send_error(c, 2, "BEGIN inside a cycle"), err_set(e, "BEGIN inside a cycle");
			pthread_mutex_lock(&s->mu);
			int rc = store_resize(s, m.u.begin.size, e);
			if (!s->mid_cycle)
				store_marker(s, 1);
			s->mid_cycle = 1;
			pthread_mutex_unlock(&s->mu);
			if (rc)
				return delta_send_error(c, 3, e->msg), -1;
			if (s->hub && s->hub->stamp)
				delta_hub_chunk_written(s->hub, UINT64_MAX, m.u.begin.size); /* resize stamps */
			in_cycle = 1;
			cycle = m.u.begin.cycle;
			got_chunks = got_bytes = 0;
			break;
		case DELTA_CHUNK: {
			if (!in_cycle)
				return delta_send_error(c, 2, "CHUNK outside a cycle"), err_set(e, "CHUNK outside a cycle");
			pthread_mutex_lock(&s->mu);
			uint64_t sz = s->size;
			int bad = m.u.chunk.off + m.u.chunk.len > sz;
			ssize_t w = bad ? 0 : pwrite(s->fd, m.u.chunk.data, m.u.chunk.len, (off_t)m.u.chunk.off);
			if (s->hc_valid) {
				uint64_t i = m.u.chunk.off / s->hc_chunk;
				uint64_t want = sz - m.u.chunk.off < s->hc_chunk ? sz - m.u.chunk.off : s->hc_chunk;
				if (m.u.chunk.off % s->hc_chunk || m.u.chunk.len != want || i >= s->hc_n ||
				    w != (ssize_t)m.u.chunk.len)
					s->hc_valid = 0;
				else
					delta_hash(s->hc_algo, m.u.chunk.data, m.u.chunk.len, &s->hc[i]);
			}
			pthread_mutex_unlock(&s->mu);
			if (bad) {
				delta_send_error(c, 4, "CHUNK beyond the region size");
				return err_set(e, "CHUNK at %llu+%u beyond the region size %llu",
					       (unsigned long long)m.u.chunk.off, m.u.chunk.len, (unsigned long long)sz);
			}
			if (w != (ssize_t)m.u.chunk.len)
				return delta_send_error(c, 5, "write failed"), err_errno(e, errno, "cannot write %s", s->path);
			if (s->hub)
				delta_hub_chunk_written(s->hub, m.u.chunk.off, m.u.chunk.len);
			got_chunks++;
			got_bytes += m.u.chunk.len;
			s->bytes_in += m.u.chunk.len;
			if (s->fault_drop_chunks && !dropped && got_chunks >= (uint64_t)s->fault_drop_chunks) {
				dropped = 1;
				s->fault_drop_chunks = 0;
				log_warn("delta receiver: fault injection: dropping the connection mid-cycle after %llu chunks",
					 (unsigned long long)got_chunks);
				return err_set(e, "fault injection: connection dropped mid-cycle");
			}
			break;
		}
		case DELTA_END:
			if (!in_cycle || m.u.end.cycle != cycle)
				return delta_send_error(c, 2, "END without matching BEGIN"), err_set(e, "END without BEGIN");
			if (m.u.end.nchunks != got_chunks || m.u.end.bytes != got_bytes) {
				delta_send_error(c, 6, "END counts do not match the chunks received");
				return err_set(e, "cycle %llu: END says %llu chunks/%llu bytes, received %llu/%llu",
					       (unsigned long long)cycle, (unsigned long long)m.u.end.nchunks,
					       (unsigned long long)m.u.end.bytes, (unsigned long long)got_chunks,
					       (unsigned long long)got_bytes);
			}
			if (s->hub && delta_hub_commit(s->hub, s->size, e))
				return delta_send_error(c, 7, e->msg), -1;
			pthread_mutex_lock(&s->mu);
			s->mid_cycle = 0;
			store_marker(s, 0);
			s->version = cycle;
			s->cycles++;
			pthread_mutex_unlock(&s->mu);
			in_cycle = 0;
			k = delta_enc_ack(out, cycle, 0);
			if (delta_put(c, out, k, e) || delta_flush(c, e))
				return -1;
			break;
		case DELTA_BYE:
			return in_cycle ? err_set(e, "BYE inside a cycle") : 0;
		default:
			delta_send_error(c, 2, "unexpected frame type");
			return err_set(e, "unexpected frame type %u from the source", m.type);
		}
	}
}

/* Tell the peer why the session ends, then drain briefly so the close does
 * not reset the connection before the ERROR frame is read. */
void delta_linger_error(struct delta_conn *c, const char *msg)
{
	delta_send_error(c, 1, msg);
	shutdown(c->fd, SHUT_WR);
	char buf[65536];
	uint64_t t0 = now_ns();
	while (now_ns() - t0 < 200000000ull) {
		struct pollfd p = {c->fd, POLLIN, 0};
		if (poll(&p, 1, 50) <= 0)
			continue;
		if (recv(c->fd, buf, sizeof buf, 0) <= 0)
			break;
	}
}

/* Receiver thread: one session after another. */
static void *store_thread(void *arg)
{
	struct delta_store *s = arg;
	while (!s->stop) {
		struct delta_conn c;
		struct err e = {0};
		int r = delta_accept(s->lfd, &c, 200, &e);
		if (r < 0) {
			log_warn("delta receiver %s: %s", s->path, e.msg);
			usleep(100000);
			continue;
		}
		if (r == 0)
			continue;
		if (delta_tls_on(&s->sec) && delta_tls_start(&c, &s->sec, 1, &e)) {
			log_warn("delta receiver %s: %s", s->path, e.msg);
			delta_conn_close(&c);
			continue;
		}
		pthread_mutex_lock(&s->mu);
		s->in_session = 1;
		pthread_mutex_unlock(&s->mu);
		int failed = delta_recv_session(s, &c, &e);
		pthread_mutex_lock(&s->mu);
		s->in_session = 0;
		pthread_mutex_unlock(&s->mu);
		if (failed && !s->stop) {
			log_info("delta receiver %s: session ended: %s", s->path, e.msg);
			delta_linger_error(&c, e.msg);
			pthread_mutex_lock(&s->mu);
			if (!s->err.set)
				s->err = e;
			pthread_mutex_unlock(&s->mu);
		}
		delta_conn_close(&c);
	}
	return NULL;
}

/* Start a receiver thread. */
int delta_store_listen(struct delta_store *s, const char *addr, int *port, struct err *e)
{
	s->lfd = delta_listen(addr, port, e);
	if (s->lfd < 0)
		return -1;
	s->port = *port;
	snprintf(s->addr, sizeof s->addr, "%s", addr ? addr : "");
	if (pthread_create(&s->th, NULL, store_thread, s)) {
		close(s->lfd);
		s->lfd = -1;
		return err_set(e, "cannot start the receiver thread");
	}
	s->running = 1;
	return 0;
}

/* Stop the receiver thread. */
void delta_store_stop(struct delta_store *s)
{
	s->stop = 1;
	if (s->running)
		pthread_join(s->th, NULL);
	s->running = 0;
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
}

/* ---- sender --------------------------------------------------------------- */

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
	(void)e;
	return 0;
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

/* Connect and exchange hashes. */
int delta_sender_connect(struct delta_sender *s, uint64_t size, int timeout_ms, struct err *e)
{
	uint8_t out[64];
	struct delta_msg m;
	if (delta_connect(&s->c, s->addr, s->port, timeout_ms, e))
		return -1;
	if (delta_tls_on(&s->sec) && delta_tls_start(&s->c, &s->sec, 0, e))
		goto fail;
	size_t k = delta_enc_hello(out, size, s->chunk, (uint8_t)s->algo, (uint8_t)s->mode, (uint64_t)getpid());
	if (delta_put(&s->c, out, k, e) || delta_recv(&s->c, &m, 60000, e))
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
	uint64_t n = m.u.reply.nchunks, want = s->mode ? 1 : n;
	s->remote_size = m.u.reply.size;
	if (sender_reserve(s, (n ? n : 1), e))
		goto fail;
	unsigned hl = delta_hash_len(s->algo);
	for (uint64_t got = 0; got < want;) {
		if (delta_recv(&s->c, &m, 60000, e))
			goto fail;
		if (m.type != DELTA_HASHES || m.u.hashes.first != got || m.u.hashes.hash_len != hl ||
		    got + m.u.hashes.count > want || !m.u.hashes.count) {
			err_set(e, "bad HASHES frame in the hash exchange (type %u, first %llu, expected %llu)", m.type,
				(unsigned long long)m.u.hashes.first, (unsigned long long)got);
			goto fail;
		}
		for (uint32_t i = 0; i < m.u.hashes.count; i++) {
			memset(&s->remote[got + i], 0, sizeof s->remote[0]);
			memcpy(s->remote[got + i].b, m.u.hashes.hashes + (size_t)i * hl, hl);
		}
		got += m.u.hashes.count;
	}
	s->remote_n = s->mode ? (n ? 1 : 0) : n;
	s->hash_wire = s->c.bytes_in + s->c.bytes_out;
	s->connected = 1;
	return 0;
fail:
	delta_conn_close(&s->c);
	return -1;
}

/* Copy or point at [off, off+len) of the view. */
static const uint8_t *view_at(const struct delta_view *v, uint8_t *tmp, uint64_t off, size_t len, struct err *e)
{
	if (v->base)
		return v->base + off;
	return v->read(v->ctx, tmp, len, off, e) ? NULL : tmp;
}

/* Start a cycle on the wire: BEGIN with the source's size. */
static int begin_cycle(struct delta_sender *s, uint64_t size, uint64_t *cycle, struct err *e)
{
	uint8_t out[64];
	*cycle = ++s->cycle;
	size_t k = delta_enc_begin(out, *cycle, size);
	return delta_put(&s->c, out, k, e);
}

/* Queue the chunks in [from, to) that the mask marks, counting them. */
static int send_chunks(struct delta_sender *s, const struct delta_view *v, uint8_t *tmp, const uint8_t *mask,
		       uint64_t from, uint64_t to, uint64_t *nchunks, uint64_t *bytes, struct err *e)
{
	uint8_t out[64];
	for (uint64_t i = from; i < to; i++) {
		if (!mask[i])
			continue;
		uint64_t off = i * s->chunk, len = v->size - off < s->chunk ? v->size - off : s->chunk;
		const uint8_t *p = view_at(v, tmp, off, len, e);
		if (!p)
			return -1;
		size_t k = delta_enc_chunk(out, off, (uint32_t)len);
		if (delta_put(&s->c, out, k, e) || delta_put(&s->c, p, len, e))
			return -1;
		(*nchunks)++;
		*bytes += len;
	}
	return 0;
}

/* One cycle against the destination. */
int delta_sender_cycle(struct delta_sender *s, const struct delta_view *v, const uint8_t *dirty, struct err *e)
{
	uint64_t size = v->size, chunk = s->chunk, n = (size + chunk - 1) / chunk;
	uint8_t out[64];
	uint8_t *tmp = NULL, *send_mask = NULL;
	int rc = -1, begun = 0;
	uint64_t cycle = 0, nchunks = 0, bytes = 0, streamed = 0, hash_ns = 0;
	if (!s->connected)
		return err_set(e, "not connected");
	if (sender_reserve(s, n ? n : 1, e))
		return -1;
	uint64_t wire0 = s->c.bytes_out + s->c.bytes_in;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	send_mask = calloc(n ? n : 1, 1);
	if (!v->base)
		tmp = malloc(chunk);
	if (!send_mask || (!v->base && !tmp)) {
		err_set(e, "out of memory");
		goto out;
	}
	/* Which chunks to send. */
	if (s->mode) {
		delta_hash_t h;
		if (!v->base) {
			err_set(e, "whole-file mode needs a mapped source");
			goto out;
		}
		delta_hash(s->algo, size ? v->base : (const uint8_t *)"", size, &h);
		s->local[0] = h;
		if (size != s->remote_size || !s->remote_n || memcmp(&h, &s->remote[0], sizeof h))
			memset(send_mask, 1, n);
	} else if (dirty) {
		for (uint64_t i = 0; i < n; i++) {
			int d = i >= s->remote_n || dirty[i] || (i == n - 1 && size != s->remote_size) ||
				(i == s->remote_n - 1 && size != s->remote_size);
			if (!d)
				continue;
			uint64_t off = i * chunk, len = size - off < chunk ? size - off : chunk;
			const uint8_t *p = view_at(v, tmp, off, len, e);
			if (!p)
				goto out;
			delta_hash(s->algo, p, len, &s->local[i]);
			send_mask[i] = i >= s->remote_n || memcmp(&s->local[i], &s->remote[i], sizeof s->local[i]) ||
				       (i == s->remote_n - 1 && size != s->remote_size);
		}
	} else if (v->base) {
		/* Hash in segments and queue each segment's changed chunks before
		 * hashing the next: the socket, the link and the receiver work on
		 * them while this thread hashes on. */
		uint64_t seg = STREAM_SEGMENT / chunk ? STREAM_SEGMENT / chunk : 1;
		for (uint64_t first = 0; first < n; first += seg) {
			uint64_t cnt = n - first < seg ? n - first : seg, h0 = now_ns();
			delta_hash_chunks(s->algo, v->base, size, s->chunk, first, cnt, s->workers, s->local + first);
			hash_ns += now_ns() - h0;
			for (uint64_t i = first; i < first + cnt; i++)
				send_mask[i] = i >= s->remote_n || memcmp(&s->local[i], &s->remote[i], sizeof s->local[i]) ||
					       (i == s->remote_n - 1 && size != s->remote_size);
			if (!memchr(send_mask + first, 1, cnt))
				continue;
			if (!begun && begin_cycle(s, size, &cycle, e))
				goto out;
			begun = 1;
			if (send_chunks(s, v, tmp, send_mask, first, first + cnt, &nchunks, &bytes, e))
				goto out;
		}
		streamed = n;
	} else {
		for (uint64_t i = 0; i < n; i++) {
			uint64_t off = i * chunk, len = size - off < chunk ? size - off : chunk;
			if (v->read(v->ctx, tmp, len, off, e))
				goto out;
			delta_hash(s->algo, tmp, len, &s->local[i]);
		}
		for (uint64_t i = 0; i < n; i++)
			send_mask[i] = i >= s->remote_n || memcmp(&s->local[i], &s->remote[i], sizeof s->local[i]) ||
				       (i == s->remote_n - 1 && size != s->remote_size);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->last_hash_ns = streamed ? hash_ns
				   : (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
	if (!begun && !memchr(send_mask, 1, n) && size == s->remote_size && (s->mode ? 1 : n) == s->remote_n) {
		/* Nothing changed since the last ACK: the destination already holds
		 * this state, so no cycle goes on the wire (and its copy is never
		 * marked mid-cycle by an empty one). */
		s->skipped++;
		goto done;
	}
	/* Send them. */
	if (!begun && begin_cycle(s, size, &cycle, e))
		goto out;
	begun = 1;
	if (send_chunks(s, v, tmp, send_mask, streamed, n, &nchunks, &bytes, e))
		goto out;
	size_t k = delta_enc_end(out, cycle, nchunks, bytes);
	struct delta_msg m;
	if (delta_put(&s->c, out, k, e) || delta_recv(&s->c, &m, ACK_TIMEOUT_MS, e))
		goto out;
	if (m.type != DELTA_ACK || m.u.ack.cycle != cycle || m.u.ack.status) {
		err_set(e, "expected ACK of cycle %llu, got frame type %u", (unsigned long long)cycle, m.type);
		goto out;
	}
done:
	/* The destination now holds what we sent. */
	if (s->mode) {
		s->remote[0] = s->local[0];
		s->remote_n = 1;
	} else {
		for (uint64_t i = 0; i < n; i++)
			if (send_mask[i] || (dirty && dirty[i]))
				s->remote[i] = s->local[i];
		s->remote_n = n;
	}
	s->remote_size = size;
	s->last_chunks = nchunks;
	s->last_bytes = bytes;
	s->last_wire = s->c.bytes_out + s->c.bytes_in - wire0;
	free(s->last_mask);
	s->last_mask = send_mask;
	s->last_n = n;
	send_mask = NULL;
	rc = 0;
out:
	if (rc) {
		/* The destination's state is unknown now: reconnect for a fresh hash exchange. */
		delta_conn_close(&s->c);
		s->connected = 0;
	}
	free(send_mask);
	free(tmp);
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
	s->remote = s->local = NULL;
	s->cap = 0;
}

/* ---- hub ------------------------------------------------------------------ */


/* Stamp the hub chunks covering [off, off+len) with the pending version;
 * off == UINT64_MAX: the region is resized to len bytes. */
void delta_hub_chunk_written(struct delta_hub *h, uint64_t off, uint64_t len)
{
	pthread_mutex_lock(&h->mu);
	if (off == UINT64_MAX) {
		uint64_t n = (len + h->chunk - 1) / h->chunk;
		if (n > h->nstamp) {
			uint64_t *ns = realloc(h->stamp, sizeof *ns * n);
			if (ns) {
				for (uint64_t i = h->nstamp; i < n; i++)
					ns[i] = h->version + 1;
				h->stamp = ns;
				h->nstamp = n;
			}
		} else {
			h->nstamp = n;
			if (n)
				h->stamp[n - 1] = h->version + 1; /* a shortened last chunk */
		}
	} else if (len) {
		for (uint64_t i = off / h->chunk; i <= (off + len - 1) / h->chunk && i < h->nstamp; i++)
			h->stamp[i] = h->version + 1;
	}
	pthread_mutex_unlock(&h->mu);
}

/* Commit a cycle at the hub and wait for every joined destination. */
int delta_hub_commit(struct delta_hub *h, uint64_t size, struct err *e)
{
	(void)size;
	pthread_mutex_lock(&h->mu);
	uint64_t v = ++h->version;
	pthread_cond_broadcast(&h->cv);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ACK_TIMEOUT_MS / 1000;
	int rc = 0;
	for (;;) {
		int behind = -1;
		for (int i = 0; i < h->ndests; i++)
			if (h->dests[i].joined && h->dests[i].version < v)
				behind = i;
		if (behind < 0 || h->stop)
			break;
		if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) == ETIMEDOUT) {
			rc = err_set(e, "hub: destination %d did not acknowledge cycle %llu in time", behind,
				     (unsigned long long)v);
			break;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

/* Read a piece of the hub's copy (for a destination's sender). */
static int hub_view_read(void *ctx, void *buf, size_t len, uint64_t off, struct err *e)
{
	struct delta_hub *h = ctx;
	pthread_mutex_lock(&h->store.mu);
	ssize_t n = off + len <= h->store.size ? pread(h->store.fd, buf, len, (off_t)off) : -1;
	pthread_mutex_unlock(&h->store.mu);
	return n == (ssize_t)len ? 0 : err_set(e, "hub: cannot read its copy at %llu", (unsigned long long)off);
}

/* One destination's thread: join (hash exchange), then forward cycles. */
static void *hub_dest_thread(void *arg)
{
	struct delta_hub_dest *d = arg;
	struct delta_hub *h = d->hub;
	for (unsigned waited = 0; waited < d->delay_ms && !h->stop; waited += 10)
		usleep(10000);
	uint8_t *mask = NULL;
	while (!h->stop) {
		struct err e = {0};
		pthread_mutex_lock(&h->store.mu);
		uint64_t size = h->store.size;
		pthread_mutex_unlock(&h->store.mu);
		if (!d->snd.connected) {
			if (delta_sender_connect(&d->snd, size, 10000, &e)) {
				log_warn("hub: destination %d: %s", d->idx, e.msg);
				usleep(200000);
				continue;
			}
			pthread_mutex_lock(&h->mu);
			uint64_t v0 = h->version;
			pthread_mutex_unlock(&h->mu);
			struct delta_view v = {.size = size, .read = hub_view_read, .ctx = h};
			if (delta_sender_cycle(&d->snd, &v, NULL, &e)) {
				log_warn("hub: destination %d: initial sync: %s", d->idx, e.msg);
				continue;
			}
			pthread_mutex_lock(&h->mu);
			d->version = v0;
			d->joined = 1;
			pthread_cond_broadcast(&h->cv);
			pthread_mutex_unlock(&h->mu);
			log_debug("hub: destination %d joined at version %llu (%llu chunks)", d->idx,
				  (unsigned long long)v0, (unsigned long long)d->snd.last_chunks);
			continue;
		}
		pthread_mutex_lock(&h->mu);
		while (!h->stop && h->version <= d->version) {
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_nsec += 100000000;
			if (dl.tv_nsec >= 1000000000) {
				dl.tv_sec++;
				dl.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&h->cv, &h->mu, &dl);
		}
		if (h->stop) {
			pthread_mutex_unlock(&h->mu);
			break;
		}
		uint64_t target = h->version, n = h->nstamp;
		free(mask);
		mask = calloc(n ? n : 1, 1);
		for (uint64_t i = 0; mask && i < n; i++)
			mask[i] = h->stamp[i] > d->version;
		pthread_mutex_unlock(&h->mu);
		pthread_mutex_lock(&h->store.mu);
		size = h->store.size;
		pthread_mutex_unlock(&h->store.mu);
		struct delta_view v = {.size = size, .read = hub_view_read, .ctx = h};
		if (!mask || (n != (size + h->chunk - 1) / h->chunk) || delta_sender_cycle(&d->snd, &v, mask, &e)) {
			if (e.set)
				log_warn("hub: destination %d: %s (reconnecting)", d->idx, e.msg);
			delta_sender_disconnect(&d->snd, 0);
			pthread_mutex_lock(&h->mu);
			d->joined = 0;
			pthread_cond_broadcast(&h->cv);
			pthread_mutex_unlock(&h->mu);
			continue;
		}
		pthread_mutex_lock(&h->mu);
		d->version = target;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
	}
	free(mask);
	return NULL;
}

/* Start a hub with its destinations. */
int delta_hub_start(struct delta_hub *h, const char *dir, const char *addr, int *port, uint64_t size, int ndests,
		    uint32_t chunk, unsigned algo, unsigned workers, unsigned late_ms, const struct delta_tls *tls,
		    int (*prepare)(const char *path, int idx, void *ctx, struct err *e), void *ctx, struct err *e)
{
	memset(h, 0, sizeof *h);
	h->ndests = ndests;
	h->chunk = chunk;
	h->algo = algo;
	h->workers = workers;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->nstamp = (size + chunk - 1) / chunk;
	h->stamp = calloc(h->nstamp ? h->nstamp : 1, sizeof *h->stamp);
	h->dests = calloc((size_t)ndests, sizeof *h->dests);
	if (!h->stamp || !h->dests)
		return err_set(e, "out of memory");
	char path[4096];
	snprintf(path, sizeof path, "%s/delta-hub", dir);
	if (prepare(path, -1, ctx, e) || delta_store_open(&h->store, path, size, e))
		return -1;
	h->store.hub = h;
	if (tls)
		h->store.sec = *tls;
	for (int i = 0; i < ndests; i++) {
		struct delta_hub_dest *d = &h->dests[i];
		d->hub = h;
		d->idx = i;
		d->delay_ms = (i == ndests - 1 && ndests > 1) ? late_ms : 0;
		snprintf(path, sizeof path, "%s/delta-dest-%d", dir, i);
		int dport = 0;
		if (prepare(path, i, ctx, e) || delta_store_open(&d->store, path, size, e))
			return -1;
		if (tls)
			d->store.sec = *tls;
		if (delta_store_listen(&d->store, "127.0.0.1", &dport, e) ||
		    delta_sender_init(&d->snd, "127.0.0.1", dport, chunk, algo, 0, workers, e))
			return -1;
		if (tls)
			d->snd.sec = *tls;
	}
	/* Destinations present from the start join before the source connects. */
	for (int i = 0; i < ndests; i++) {
		struct delta_hub_dest *d = &h->dests[i];
		if (pthread_create(&d->th, NULL, hub_dest_thread, d))
			return err_set(e, "cannot start a hub thread");
		d->started = 1;
	}
	for (int i = 0; i < ndests; i++) {
		struct delta_hub_dest *d = &h->dests[i];
		for (int t = 0; !d->delay_ms && t < 60000 && !d->joined; t += 10)
			usleep(10000);
		if (!d->delay_ms && !d->joined)
			return err_set(e, "hub: destination %d did not join within 60 s", i);
	}
	return delta_store_listen(&h->store, addr, port, e);
}

/* Read the hub's copy once every destination caught up; compare them all. */
int delta_hub_read(struct delta_hub *h, void *buf, size_t len, uint64_t off, struct err *e)
{
	pthread_mutex_lock(&h->mu);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 120;
	int rc = 0;
	for (;;) {
		int behind = -1;
		for (int i = 0; i < h->ndests; i++)
			if (!h->dests[i].joined || h->dests[i].version < h->version)
				behind = i;
		if (behind < 0)
			break;
		if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) == ETIMEDOUT) {
			rc = err_set(e, "hub: destination %d has not caught up with version %llu", behind,
				     (unsigned long long)h->version);
			break;
		}
	}
	pthread_mutex_unlock(&h->mu);
	if (rc || delta_store_read(&h->store, buf, len, off, e))
		return -1;
	uint8_t *tmp = malloc(len);
	if (!tmp)
		return err_set(e, "out of memory");
	for (int i = 0; i < h->ndests && !rc; i++) {
		if (delta_store_read(&h->dests[i].store, tmp, len, off, e))
			rc = -1;
		else if (memcmp(tmp, buf, len)) {
			size_t j = 0;
			while (tmp[j] == ((uint8_t *)buf)[j])
				j++;
			rc = err_set(e, "hub destination %d differs from the hub's copy at byte %llu", i,
				     (unsigned long long)(off + j));
		}
	}
	free(tmp);
	return rc;
}

/* Stop everything. */
void delta_hub_stop(struct delta_hub *h)
{
	h->stop = 1;
	h->store.stop = 1;
	pthread_mutex_lock(&h->mu);
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	delta_store_stop(&h->store);
	for (int i = 0; h->dests && i < h->ndests; i++) {
		struct delta_hub_dest *d = &h->dests[i];
		if (d->started)
			pthread_join(d->th, NULL);
		delta_sender_free(&d->snd);
		delta_store_stop(&d->store);
		delta_store_close(&d->store);
	}
	delta_store_close(&h->store);
	free(h->dests);
	free(h->stamp);
	h->dests = NULL;
	h->stamp = NULL;
}
