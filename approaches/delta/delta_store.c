/*
 * delta_store.c - a destination's copy of the region and its receiver.
 *
 * Receiver: HELLO -> HELLO_REPLY + HASHES of its current copy; then cycles
 * BEGIN (resize to the source's size) / CHUNK (pwrite) / END (check counts)
 * -> ACK. A store that saw BEGIN without END is marked mid-cycle (also on
 * disk, PATH.incomplete) and refuses to be read, so a destination that lost
 * its source mid-cycle is never taken for in sync; the next session's hash
 * exchange repairs it. The store's owner (the hub) follows every cycle
 * through its hooks.
 */
#include "delta_store.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define STORE_FILE_MODE 0644          /* like the source file the copy mirrors (before the umask) */
#define INCOMPLETE_SUFFIX ".incomplete"
#define HASHES_PER_FRAME 8192u
#define STORE_HASH_WORKERS 2          /* threads hashing the copy for a hash exchange */
#define HELLO_TIMEOUT_MS 30000        /* a connected source sends HELLO within this */
#define CYCLE_IDLE_TIMEOUT_MS 60000   /* silence inside a cycle that ends the session */
#define READ_WAIT_MS 60000            /* a read waits this long for a connected source's cycle */
#define LINGER_NS 200000000ull        /* drain after an ERROR frame for this long */
#define LINGER_POLL_MS 50
#define ACCEPT_POLL_MS 200            /* the receiver thread checks for stop this often */
#define ACCEPT_RETRY_US 100000        /* pause after a failed accept */

/* An absolute deadline ms from now, for pthread_cond_timedwait. */
void delta_deadline(struct timespec *dl, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, dl);
	dl->tv_sec += ms / 1000;
	dl->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl->tv_nsec >= 1000000000L) {
		dl->tv_sec++;
		dl->tv_nsec -= 1000000000L;
	}
}

/* Path of the store's mid-cycle marker. */
static void marker_path(const struct delta_store *s, char *out, size_t len)
{
	snprintf(out, len, "%s" INCOMPLETE_SUFFIX, s->path);
}

/* Create or open the store file with the given size. */
int delta_store_open(struct delta_store *s, const char *path, uint64_t size, struct err *e)
{
	memset(s, 0, sizeof *s);
	s->lfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	snprintf(s->path, sizeof s->path, "%s", path);
	s->fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd < 0 && errno == ENOENT) {
		s->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, STORE_FILE_MODE);
		s->created = s->fd >= 0;
	}
	if (s->fd < 0)
		return err_errno(e, errno, "cannot open %s", path);
	struct stat st;
	if (fstat(s->fd, &st))
		return err_errno(e, errno, "fstat %s", path);
	if ((uint64_t)st.st_size != size && ftruncate(s->fd, (off_t)size))
		return err_errno(e, errno, "cannot size %s", path);
	s->size = size;
	/* A marker left by a receiver that died mid-cycle: the copy is partial
	 * until a complete cycle (after a hash exchange) replaces it. */
	char mk[sizeof s->path + sizeof INCOMPLETE_SUFFIX];
	marker_path(s, mk, sizeof mk);
	if (access(mk, F_OK) == 0) {
		s->mid_cycle = 1;
		log_warn("delta: %s was left mid-cycle by an earlier receiver; it is stale until the next cycle", path);
	}
	return 0;
}

/* Mark (or unmark) the copy as mid-cycle on disk too. */
static void store_marker(struct delta_store *s, int on)
{
	char mk[sizeof s->path + sizeof INCOMPLETE_SUFFIX];
	marker_path(s, mk, sizeof mk);
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
	struct timespec dl;
	delta_deadline(&dl, READ_WAIT_MS);
	while (s->mid_cycle && s->in_session && !s->stop)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
			break;
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
	delta_cdc_list_free(&s->cdc);
	s->cdc_valid = 0;
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

/* Does the hash cache hold this session's hashes? (under the lock) */
static int store_cache_fits(const struct delta_store *s, uint32_t chunk, unsigned algo, unsigned mode, uint64_t n)
{
	return !mode && s->hc_valid && s->hc_chunk == chunk && s->hc_algo == algo && s->hc_n == n;
}

/* Keep a session's chunk hashes as the cache (under the lock). */
static void store_cache_keep(struct delta_store *s, const delta_hash_t *hs, uint64_t n, uint32_t chunk, unsigned algo)
{
	free(s->hc);
	s->hc = malloc(sizeof *hs * (n ? n : 1));
	s->hc_valid = s->hc != NULL;
	if (s->hc)
		memcpy(s->hc, hs, sizeof *hs * n);
	s->hc_n = n;
	s->hc_chunk = chunk;
	s->hc_algo = algo;
}

/* Hash the copy for a session into hs[n]: from the cache, or map the copy
 * and hash every chunk (or the whole file) with worker threads. */
static int store_hash_copy(struct delta_store *s, uint32_t chunk, unsigned algo, unsigned mode, uint64_t n,
			   delta_hash_t *hs, struct err *e)
{
	pthread_mutex_lock(&s->mu);
	uint64_t size = s->size;
	int rc = 0;
	if (store_cache_fits(s, chunk, algo, mode, n)) {
		memcpy(hs, s->hc, sizeof *hs * n);
	} else {
		const uint8_t *map = (const uint8_t *)"";
		if (size) {
			void *p = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, s->fd, 0);
			if (p == MAP_FAILED)
				rc = err_errno(e, errno, "cannot map %s", s->path);
			else
				map = p;
		}
		if (!rc && mode)
			delta_hash(algo, map, size, &hs[0]);
		else if (!rc)
			delta_hash_chunks(algo, map, size, chunk, 0, n, STORE_HASH_WORKERS, hs);
		if (!rc && !mode) /* keep them for the next session */
			store_cache_keep(s, hs, n, chunk, algo);
		if (!rc && size)
			munmap((void *)map, size);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Send the hashes of the store's content for one session in HASHES frames. */
static int store_send_hashes(struct delta_store *s, struct delta_conn *c, uint32_t chunk, unsigned algo,
			     unsigned mode, struct err *e)
{
	unsigned hl = delta_hash_len(algo);
	uint8_t hdr[64];
	pthread_mutex_lock(&s->mu);
	uint64_t n = mode ? 1 : (s->size + chunk - 1) / chunk;
	pthread_mutex_unlock(&s->mu);
	delta_hash_t *hs = calloc(n ? n : 1, sizeof *hs);
	uint8_t *out = malloc((size_t)hl * HASHES_PER_FRAME);
	int rc = !hs || !out ? err_set(e, "out of memory") : store_hash_copy(s, chunk, algo, mode, n, hs, e);
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
	s->cdc_valid = 0;
	return 0;
}

/* The receiver's state within one session. */
struct recv_cycle {
	uint64_t cycle, chunks, bytes;
	int open;    /* BEGIN seen, END not yet */
	int dropped; /* the fault_drop test hook fired */
};

/* What a session's HELLO asked for. */
struct recv_session {
	uint32_t chunk; /* chunk size, or the CDC average */
	unsigned algo, mode;
};

/* Start of a session: HELLO -> HELLO_REPLY and the hashes of the copy (none
 * for content-defined chunks: a cycle's RECIPE does the matching); a copy
 * this store created takes the source file's permission bits. */
static int recv_hello(struct delta_store *s, struct delta_conn *c, struct recv_session *ss, struct err *e)
{
	struct delta_msg m;
	uint8_t out[64];
	if (delta_recv(c, &m, HELLO_TIMEOUT_MS, e))
		return -1;
	if (m.type != DELTA_HELLO) {
		delta_send_error(c, DELTA_ERR_PROTOCOL, "expected HELLO");
		return err_set(e, "expected HELLO, got frame type %u", m.type);
	}
	uint32_t chunk = m.u.hello.chunk;
	unsigned algo = m.u.hello.algo, mode = m.u.hello.mode;
	*ss = (struct recv_session){chunk, algo, mode};
	if (!delta_algo_available(algo)) {
		delta_send_error(c, DELTA_ERR_PROTOCOL, "hash algorithm not in this build");
		return err_set(e, "the source asks for hash %s, which this build lacks", delta_algo_name(algo));
	}
	if (mode == DELTA_MODE_CDC && s->hooks.written) {
		delta_send_error(c, DELTA_ERR_PROTOCOL, "content-defined chunks are not supported by the hub");
		return err_set(e, "a source asked the hub for content-defined chunks");
	}
	if (s->created && m.u.hello.fmode && fchmod(s->fd, m.u.hello.fmode))
		return err_errno(e, errno, "cannot set the mode of %s", s->path);
	pthread_mutex_lock(&s->mu);
	uint64_t size = s->size;
	pthread_mutex_unlock(&s->mu);
	/* The reply states the size in chunks; in whole-file mode HASHES carries one hash. */
	uint64_t n = (size + chunk - 1) / chunk;
	size_t k = delta_enc_reply(out, size, chunk, (uint8_t)algo, 0, n);
	if (delta_put(c, out, k, e))
		return -1;
	if (mode == DELTA_MODE_CDC)
		return delta_flush(c, e);
	return store_send_hashes(s, c, chunk, algo, mode, e);
}

/* BEGIN: resize to the source's size (fixed chunks; a CDC cycle sizes the
 * copy when it knows where the chunks go) and mark the copy mid-cycle. */
static int recv_begin(struct delta_store *s, struct delta_conn *c, const struct delta_msg *m, struct recv_cycle *cy,
		      int resize, struct err *e)
{
	if (cy->open)
		return delta_send_error(c, DELTA_ERR_SEQUENCE, "BEGIN inside a cycle"), err_set(e, "BEGIN inside a cycle");
	pthread_mutex_lock(&s->mu);
	int rc = resize ? store_resize(s, m->u.begin.size, e) : 0;
	if (!s->mid_cycle)
		store_marker(s, 1);
	s->mid_cycle = 1;
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return delta_send_error(c, DELTA_ERR_RESIZE, e->msg), -1;
	if (s->hooks.resized)
		s->hooks.resized(s->hooks.ctx, m->u.begin.size);
	cy->open = 1;
	cy->cycle = m->u.begin.cycle;
	cy->chunks = cy->bytes = 0;
	return 0;
}

/* Write a chunk and keep its cached hash current (under the lock); the
 * pwrite result, 0 when the chunk lies beyond the size (*beyond set). */
static ssize_t store_write_chunk(struct delta_store *s, const struct delta_msg *m, int *beyond)
{
	uint64_t off = m->u.chunk.off, len = m->u.chunk.len;
	*beyond = off + len > s->size;
	ssize_t w = *beyond ? 0 : pwrite(s->fd, m->u.chunk.data, len, (off_t)off);
	s->cdc_valid = 0;
	if (s->hc_valid) {
		uint64_t i = off / s->hc_chunk;
		uint64_t want = s->size - off < s->hc_chunk ? s->size - off : s->hc_chunk;
		if (off % s->hc_chunk || len != want || i >= s->hc_n || w != (ssize_t)len)
			s->hc_valid = 0;
		else
			delta_hash(s->hc_algo, m->u.chunk.data, len, &s->hc[i]);
	}
	return w;
}

/* CHUNK: write it into the copy (and fire the fault_drop test hook). */
static int recv_chunk(struct delta_store *s, struct delta_conn *c, const struct delta_msg *m, struct recv_cycle *cy,
		      struct err *e)
{
	if (!cy->open)
		return delta_send_error(c, DELTA_ERR_SEQUENCE, "CHUNK outside a cycle"), err_set(e, "CHUNK outside a cycle");
	int beyond;
	pthread_mutex_lock(&s->mu);
	uint64_t sz = s->size;
	ssize_t w = store_write_chunk(s, m, &beyond);
	pthread_mutex_unlock(&s->mu);
	if (beyond) {
		delta_send_error(c, DELTA_ERR_RANGE, "CHUNK beyond the region size");
		return err_set(e, "CHUNK at %llu+%u beyond the region size %llu", (unsigned long long)m->u.chunk.off,
			       m->u.chunk.len, (unsigned long long)sz);
	}
	if (w != (ssize_t)m->u.chunk.len)
		return delta_send_error(c, DELTA_ERR_WRITE, "write failed"), err_errno(e, errno, "cannot write %s", s->path);
	if (s->hooks.written)
		s->hooks.written(s->hooks.ctx, m->u.chunk.off, m->u.chunk.len);
	cy->chunks++;
	cy->bytes += m->u.chunk.len;
	s->bytes_in += m->u.chunk.len;
	if (s->fault_drop_chunks && !cy->dropped && cy->chunks >= (uint64_t)s->fault_drop_chunks) {
		cy->dropped = 1;
		s->fault_drop_chunks = 0;
		log_warn("delta receiver: fault injection: dropping the connection mid-cycle after %llu chunks",
			 (unsigned long long)cy->chunks);
		return err_set(e, "fault injection: connection dropped mid-cycle");
	}
	return 0;
}

/* END: check the counts, commit (the hub waits for its destinations here),
 * clear the mid-cycle mark and ACK. */
static int recv_end(struct delta_store *s, struct delta_conn *c, const struct delta_msg *m, struct recv_cycle *cy,
		    struct err *e)
{
	uint8_t out[64];
	if (!cy->open || m->u.end.cycle != cy->cycle)
		return delta_send_error(c, DELTA_ERR_SEQUENCE, "END without matching BEGIN"), err_set(e, "END without BEGIN");
	if (m->u.end.nchunks != cy->chunks || m->u.end.bytes != cy->bytes) {
		delta_send_error(c, DELTA_ERR_COUNTS, "END counts do not match the chunks received");
		return err_set(e, "cycle %llu: END says %llu chunks/%llu bytes, received %llu/%llu",
			       (unsigned long long)cy->cycle, (unsigned long long)m->u.end.nchunks,
			       (unsigned long long)m->u.end.bytes, (unsigned long long)cy->chunks,
			       (unsigned long long)cy->bytes);
	}
	if (s->hooks.commit && s->hooks.commit(s->hooks.ctx, e))
		return delta_send_error(c, DELTA_ERR_FANOUT, e->msg), -1;
	pthread_mutex_lock(&s->mu);
	s->mid_cycle = 0;
	store_marker(s, 0);
	s->version = cy->cycle;
	s->cycles++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	cy->open = 0;
	size_t k = delta_enc_ack(out, cy->cycle, 0);
	return delta_put(c, out, k, e) || delta_flush(c, e) ? -1 : 0;
}

/* A content-defined-chunking cycle: BEGIN, the RECIPE/WANT exchange and
 * the chunks (delta_cdc_recv.c), then END as in a fixed-chunk cycle. */
static int recv_cdc_cycle(struct delta_store *s, struct delta_conn *c, const struct delta_msg *begin,
			  const struct recv_session *ss, struct recv_cycle *cy, struct err *e)
{
	struct delta_msg end;
	if (recv_begin(s, c, begin, cy, 0, e) ||
	    delta_cdc_recv_cycle(s, c, begin->u.begin.size, ss->chunk, ss->algo, &end, &cy->chunks, &cy->bytes, e))
		return -1;
	return recv_end(s, c, &end, cy, e);
}

/* Serve one source session. */
int delta_recv_session(struct delta_store *s, struct delta_conn *c, struct err *e)
{
	struct recv_session ss = {0};
	if (recv_hello(s, c, &ss, e))
		return -1;
	struct recv_cycle cy = {0};
	for (;;) {
		struct delta_msg m;
		if (s->stop)
			return 0;
		if (delta_recv(c, &m, cy.open ? CYCLE_IDLE_TIMEOUT_MS : -1, e)) {
			if (cy.open)
				err_set(e, "source disconnected mid-cycle %llu", (unsigned long long)cy.cycle);
			return -1;
		}
		int rc;
		switch (m.type) {
		case DELTA_BEGIN:
			if (ss.mode == DELTA_MODE_CDC)
				rc = recv_cdc_cycle(s, c, &m, &ss, &cy, e);
			else
				rc = recv_begin(s, c, &m, &cy, 1, e);
			break;
		case DELTA_CHUNK:
			rc = recv_chunk(s, c, &m, &cy, e);
			break;
		case DELTA_END:
			rc = recv_end(s, c, &m, &cy, e);
			break;
		case DELTA_BYE:
			return cy.open ? err_set(e, "BYE inside a cycle") : 0;
		default:
			delta_send_error(c, DELTA_ERR_SEQUENCE, "unexpected frame type");
			return err_set(e, "unexpected frame type %u from the source", m.type);
		}
		if (rc)
			return -1;
	}
}

/* Tell the peer why the session ends, then drain briefly so the close does
 * not reset the connection before the ERROR frame is read. */
void delta_linger_error(struct delta_conn *c, const char *msg)
{
	delta_send_error(c, DELTA_ERR_PROTOCOL, msg);
	shutdown(c->fd, SHUT_WR);
	char buf[65536];
	uint64_t t0 = now_ns();
	while (now_ns() - t0 < LINGER_NS) {
		struct pollfd p = {c->fd, POLLIN, 0};
		if (poll(&p, 1, LINGER_POLL_MS) <= 0)
			continue;
		if (recv(c->fd, buf, sizeof buf, 0) <= 0)
			break;
	}
}

/* Mark whether a source is connected; a reader waiting for its cycle wakes. */
static void store_set_session(struct delta_store *s, int on)
{
	pthread_mutex_lock(&s->mu);
	s->in_session = on;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Receiver thread: one session after another. */
static void *store_thread(void *arg)
{
	struct delta_store *s = arg;
	while (!s->stop) {
		struct delta_conn c;
		struct err e = {0};
		int r = delta_accept(s->lfd, &c, ACCEPT_POLL_MS, &e);
		if (r < 0) {
			log_warn("delta receiver %s: %s", s->path, e.msg);
			usleep(ACCEPT_RETRY_US);
			continue;
		}
		if (r == 0)
			continue;
		if (delta_tls_on(&s->sec) && delta_tls_start(&c, &s->sec, 1, &e)) {
			log_warn("delta receiver %s: %s", s->path, e.msg);
			delta_conn_close(&c);
			continue;
		}
		store_set_session(s, 1);
		int failed = delta_recv_session(s, &c, &e);
		store_set_session(s, 0);
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

/* Stop the receiver thread; a reader waiting for a cycle gives up. */
void delta_store_stop(struct delta_store *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->running)
		pthread_join(s->th, NULL);
	s->running = 0;
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
}
