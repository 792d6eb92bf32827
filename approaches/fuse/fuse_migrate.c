/*
 * fuse_migrate.c - two-phase migration (seeder and leecher, as the thesis's
 * managed mounts do it).
 *
 * Source (local process, host 0): from open() on, the region is exported
 * over NBD on sc->local_addr:sc->mig_port (read-only; from the engine,
 * or, direct, from the remote through a connection of its own), and every
 * chunk written is remembered (managed_track_start, or the direct data
 * path's tracking map).
 * Destination (host 2): its own FUSE file over a managed engine that pulls
 * the whole region from the source in the background while the writer
 * keeps writing on the source; it listens on sc->ctl_port for the switch.
 * Switch (migrate_source): the source makes sure the destination answers
 * (HELLO/READY; a failure here suspends nothing, so the call can be
 * retried), suspends the writer (it msyncs before it stops: its writes
 * are in the daemon), takes the chunks written since the pull began and sends
 * them (DIRTY); the destination marks them absent (managed_invalidate:
 * pulled first, ahead of the rest) and drops them from its page cache, and
 * acknowledges; the writer may resume on the destination at once. The
 * source keeps serving until the destination has pulled everything.
 */
#include "fuse_impl.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "fuse_ctl.h"
#include "log.h"
#include "nbd_server.h"

struct fuse_mig {
	struct backend *exp;         /* source: the export (a pass-through over the engine or the remote) */
	struct nbd_server *srv;
	_Atomic uint8_t *served;     /* chunks the destination has read */
	atomic_ullong served_bytes;
	int ctl;                     /* source: connection to the destination */
	int lfd;                     /* destination: control listener */
	struct fuse_ctl_thread t;
	struct fuse_local *l;
};

/* ---- the source's export --------------------------------------------------- */

/* After a read for the destination: remember what it got. */
static void mig_served(void *arg, size_t len, uint64_t off)
{
	struct fuse_mig *mg = arg;
	uint64_t chunk = mg->l->cfg.chunk;
	for (uint64_t c = off / chunk; len && c <= (off + len - 1) / chunk; c++)
		atomic_store_explicit(&mg->served[c], 1, memory_order_relaxed);
	atomic_fetch_add(&mg->served_bytes, len);
}

/* A migration state with nothing open. */
static struct fuse_mig *mig_new(struct fuse_local *l, struct err *e)
{
	struct fuse_mig *mg = calloc(1, sizeof *mg);
	if (!mg)
		return err_errno(e, ENOMEM, "fuse migration"), NULL;
	mg->l = l;
	mg->ctl = mg->lfd = -1;
	l->mig = mg;
	return mg;
}

/* Source, at open(): export the region to the destination. */
int fuse_mig_source_start(struct fuse_local *l, struct err *e)
{
	struct fuse_mig *mg = mig_new(l, e);
	if (!mg)
		return -1;
	uint64_t n = (l->size + l->cfg.chunk - 1) / l->cfg.chunk;
	if (!(mg->served = calloc(n, 1)))
		return err_errno(e, ENOMEM, "fuse migration");
	struct backend *inner;
	if (l->mg) {
		inner = managed_backend_new(l->mg, e);
	} else {
		struct remote *r2 = remote_connect(l->uri, l->cfg.conns, e);
		inner = r2 ? backend_remote_new(r2, e) : NULL;
	}
	/* Read-only to the server, which still accepts the destination's flush
	 * (its FSYNC forwards one): nothing was written through this export, so
	 * the flush ends here; passed on, the engine's flush would push the
	 * source's whole dirty set to the remote while the destination waits. */
	struct backend_passthrough_hooks h = {
		.kind = "fuse-migration-source", .flush_ends_here = 1, .after_read = mig_served, .arg = mg,
	};
	if (!inner || !(mg->exp = backend_passthrough_new(inner, &h, e)))
		return -1;
	struct nbd_server_opts so = {.workers = 8, .readonly = 1};
	char port[16];
	snprintf(port, sizeof port, "%d", l->sc->mig_port);
	if (!(mg->srv = nbd_server_new(mg->exp, &so, e)) || nbd_server_listen(mg->srv, l->sc->local_addr, port, e))
		return -1;
	log_debug("fuse: migration source serving on %s:%s (%s)", l->sc->local_addr, port, mg->exp->spec);
	return 0;
}

/* The chunks written since the pull began, as (off, len) ranges (big endian). */
static uint64_t *dirty_ranges(struct fuse_local *l, uint32_t *nranges, uint64_t *resent, struct err *e)
{
	struct fuse_mig *mg = l->mig;
	uint64_t chunk = l->cfg.chunk, nch = (l->size + chunk - 1) / chunk;
	size_t n = 0;
	uint64_t *cs;
	if (l->mg) {
		if (!(cs = managed_track_take(l->mg, &n, e)))
			return NULL;
	} else {
		if (!(cs = malloc((nch ? nch : 1) * sizeof *cs)))
			return err_errno(e, ENOMEM, "fuse migration"), NULL;
		for (uint64_t c = 0; c < nch; c++)
			if (atomic_exchange(&l->tracked[c], 0))
				cs[n++] = c;
	}
	uint64_t *out = malloc((2 * n + 2) * sizeof *out);
	uint32_t k = 0;
	*resent = 0;
	for (size_t i = 0; out && i < n; i++) {
		uint64_t off = cs[i] * chunk, len = off + chunk > l->size ? l->size - off : chunk;
		if (cs[i] < nch && atomic_load(&mg->served[cs[i]]))
			*resent += len;
		if (k && be64toh(out[2 * k - 2]) + be64toh(out[2 * k - 1]) == off) {
			out[2 * k - 1] = htobe64(be64toh(out[2 * k - 1]) + len);
			continue;
		}
		out[2 * k] = htobe64(off);
		out[2 * k + 1] = htobe64(len);
		k++;
	}
	free(cs);
	if (!out)
		return err_errno(e, ENOMEM, "fuse migration"), NULL;
	*nranges = k;
	return out;
}

/* Before the switch: the destination answers and pulls (may be retried). */
static int mig_hello(struct fuse_local *l, struct err *e)
{
	struct fuse_mig *mg = l->mig;
	if (mg->ctl >= 0)
		return 0;
	int fd = fuse_ctl_connect(l->sc->third_addr, l->sc->ctl_port, 10000, e);
	struct fuse_ctl_msg m;
	if (fd < 0)
		return -1;
	int rc = fuse_ctl_send(fd, FUSE_CTL_HELLO, l->cfg.chunk, l->size, NULL, 0, e);
	if (!rc && (rc = fuse_ctl_recv(fd, &m, 10000, e)) == 0 && (m.type != FUSE_CTL_READY || m.a != l->cfg.chunk))
		rc = err_set(e, "fuse migration: the destination answered %u (chunk %" PRIu64 ")", m.type, m.a);
	if (rc) {
		if (rc > 0)
			err_set(e, "fuse migration: the destination closed the control connection");
		close(fd);
		return -1;
	}
	mg->ctl = fd;
	return 0;
}

/* Source local process: the switch. */
int fuse_migrate_source(struct region *r, struct migration *m, struct err *e)
{
	struct fuse_local *l = r->priv;
	struct fuse_mig *mg = l->mig;
	if (fuse_failed(l, e))
		return -1;
	if (!mg)
		return err_set(e, "fuse: migrate_source without a migration source");
	if (mig_hello(l, e))
		return -1; /* nothing suspended: may be retried */
	if (m->suspend_source(m, e))
		return -1;
	/* The writer msynced before it reported stopped: every write it made
	 * has reached the daemon (and the tracking) by now. */
	uint32_t n = 0;
	uint64_t resent = 0, served_before = atomic_load(&mg->served_bytes);
	uint64_t *ranges = dirty_ranges(l, &n, &resent, e);
	if (!ranges)
		return -1;
	struct fuse_ctl_msg ack;
	int rc = fuse_ctl_send(mg->ctl, FUSE_CTL_DIRTY, n, 0, ranges, n * 16u, e);
	free(ranges);
	if (!rc && (rc = fuse_ctl_recv(mg->ctl, &ack, 30000, e)) == 0 && (ack.type != FUSE_CTL_ACK || ack.a))
		rc = ack.type == FUSE_CTL_ACK ? err_errno(e, (int)ack.a, "fuse migration: the destination failed")
					      : err_set(e, "fuse migration: unexpected answer %u", ack.type);
	if (rc)
		return rc > 0 ? err_set(e, "fuse migration: the destination closed the control connection") : -1;
	uint64_t chunk = l->cfg.chunk, nch = (l->size + chunk - 1) / chunk, distinct = 0;
	for (uint64_t c = 0; c < nch; c++)
		if (atomic_load(&mg->served[c]))
			distinct += c == nch - 1 ? l->size - c * chunk : chunk;
	m->rounds = 2; /* the background pull, and the dirty chunks after the switch */
	m->bytes_resent = resent;
	m->bytes_moved = served_before + (l->size - distinct) + resent;
	log_debug("fuse migration: %u dirty ranges (%" PRIu64 " chunks invalidated), %" PRIu64 " bytes served "
		  "before the switch, %" PRIu64 " re-sent",
		  n, ack.b, served_before, resent);
	return 0;
}

/* ---- the destination -------------------------------------------------------- */

/* DIRTY: refetch these ranges first; drop them from the page cache. */
static int dest_dirty(struct fuse_local *l, int fd, const struct fuse_ctl_msg *m, uint64_t *chunks, struct err *e)
{
	if (m->count != m->a * 16)
		return err_set(e, "DIRTY with %" PRIu64 " ranges but %u bytes", m->a, m->count);
	uint64_t *r = malloc(m->count ? m->count : 1);
	if (!r)
		return err_errno(e, ENOMEM, "fuse migration");
	int rc = fuse_ctl_payload(fd, r, m->count, e);
	for (uint64_t i = 0; !rc && i < m->a; i++) {
		uint64_t off = be64toh(r[2 * i]), len = be64toh(r[2 * i + 1]);
		rc = fuse_apply_change(l, off, len, e);
		*chunks += (len + l->cfg.chunk - 1) / l->cfg.chunk;
	}
	free(r);
	return rc;
}

/* One control connection from the source. */
static void dest_conn(struct fuse_mig *mg, int fd)
{
	struct fuse_local *l = mg->l;
	for (;;) {
		struct pollfd p[2] = {{mg->t.stop[0], POLLIN, 0}, {fd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return;
		if (p[0].revents)
			return;
		struct fuse_ctl_msg m;
		struct err e = {0};
		int rc = fuse_ctl_recv(fd, &m, 0, &e);
		if (rc)
			return;
		if (m.type == FUSE_CTL_HELLO && !m.count) {
			if (fuse_ctl_send(fd, FUSE_CTL_READY, l->cfg.chunk, l->size, NULL, 0, &e))
				return;
			continue;
		}
		if (m.type != FUSE_CTL_DIRTY) {
			log_warn("fuse migration: unexpected control message %u", m.type);
			return;
		}
		uint64_t chunks = 0, t0 = now_ns();
		rc = dest_dirty(l, fd, &m, &chunks, &e);
		if (rc)
			log_warn("fuse migration: %s", e.msg);
		log_debug("fuse migration: %" PRIu64 " chunks invalidated in %.3f ms", chunks,
			  (double)(now_ns() - t0) / 1e6);
		if (fuse_ctl_send(fd, FUSE_CTL_ACK, rc ? (uint64_t)(e.code ? e.code : EIO) : 0, chunks, NULL, 0, &e) || rc)
			return;
	}
}

/* The destination's control thread: one source at a time. */
static void *dest_run(void *arg)
{
	struct fuse_mig *mg = arg;
	for (;;) {
		struct pollfd p[2] = {{mg->t.stop[0], POLLIN, 0}, {mg->lfd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		int fd = p[1].revents ? accept4(mg->lfd, NULL, NULL, SOCK_CLOEXEC) : -1;
		if (fd >= 0) {
			dest_conn(mg, fd);
			close(fd);
		}
	}
	return NULL;
}

/* Connect the destination's engine to the source (it listens since its open()). */
static int dest_connect(struct fuse_local *l, struct err *e)
{
	uint64_t t0 = now_ns();
	struct err sub = {0};
	for (;;) {
		err_clear(&sub);
		if (fuse_data_init(l, &sub) == 0)
			return 0;
		fuse_data_fini(l);
		if (now_ns() - t0 > 10000000000ull)
			return err_set(e, "fuse migration: no connection to the source %s: %s", l->uri, sub.msg);
		usleep(10000);
	}
}

/* Destination process: a managed mount pulling from the source (on
 * failure, what was set up is in r->priv for close()). */
int fuse_migrate_dest(const struct scenario *sc, struct region *r, struct err *e)
{
	struct fuse_local *l = fuse_local_new(sc, r, e);
	if (!(r->priv = l))
		return -1;
	l->cfg.managed = 1; /* the destination always has an engine: it leeches */
	l->is_dest = 1;
	snprintf(l->uri, sizeof l->uri, "nbd://%s:%d/", sc->local_addr, sc->mig_port);
	struct fuse_mig *mg = mig_new(l, e);
	if (!mg || (l->cfg.prefetch == FUSE_PREFETCH_STORE && !(l->pf = fuse_prefetch_new(l, e))) ||
	    dest_connect(l, e) || fuse_local_mount(l, "fuse-dest", e))
		return -1;
	if ((mg->lfd = fuse_ctl_listen(sc->third_addr, sc->ctl_port, e)) < 0)
		return -1;
	return fuse_ctl_thread_start(&mg->t, dest_run, mg, e);
}

/* Stop serving (source) or listening (destination). */
void fuse_mig_stop(struct fuse_local *l)
{
	struct fuse_mig *mg = l->mig;
	if (!mg)
		return;
	l->mig = NULL;
	fuse_ctl_thread_stop(&mg->t);
	if (mg->srv) {
		struct nbd_server_stats st;
		nbd_server_stats(mg->srv, &st);
		log_debug("fuse migration: the source served %" PRIu64 " bytes", st.bytes_read);
		nbd_server_free(mg->srv);
	}
	backend_close(mg->exp);
	if (mg->lfd >= 0)
		close(mg->lfd);
	if (mg->ctl >= 0)
		close(mg->ctl);
	free(mg->served);
	free(mg);
}
