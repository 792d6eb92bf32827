/*
 * uffd_migrate.c - post-copy migration for the uffd approach.
 *
 * Source (local process of host 0): migrate_source() serves the region to
 * the destination over NBD, from a backend that reads the workload's memory
 * with process_vm_readv for chunks present on the source and the remote
 * copy for chunks the source never touched. Reads are held back until the
 * switch-over: the destination connects while the writer still runs (so
 * the handshakes are not part of the downtime), then the writer is
 * suspended, reads are released and migrate_source() returns at once.
 *
 * Destination (host 2): an empty registered region (REGION_ANON_UFFD)
 * whose faults pull from the source; after the first fault is resolved
 * (the workload has resumed) the background puller drains the rest.
 *
 * Both sides are the core (uffd_int.h) plus hooks: the destination
 * connects late, from the puller thread, once the source listens; the
 * source's export is woken and freed by uffd_stop(). The source listens on
 * the port the runner assigned to migration (sc->mig_port).
 */
#include "uffd.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "log.h"
#include "nbd_server.h"

#define MIG_SERVER_WORKERS 8                 /* server threads per destination connection */
#define DEST_WAIT_NS 10000000000ull          /* wait this long for the destination's connections */
#define DEST_WAIT_POLL_US 500                /* ... looking every 0.5 ms */
#define CONNECT_RETRY_NS 2000000             /* the destination retries connecting every 2 ms */

/* The source's NBD export of the migrating region (the mode's state, hooks.arg). */
struct uffd_mig {
	struct backend b; /* first: the backend callbacks get &b */
	struct uffd *u;
	struct nbd_server *srv;
	atomic_ullong served;
	atomic_int switched;
	pthread_mutex_t sw_lock;
	pthread_cond_t sw_cond;
};

/* Wait until the switch-over (or stop); 0 when switched. */
static int wait_switched(struct uffd_mig *mg)
{
	struct uffd *u = mg->u;
	pthread_mutex_lock(&mg->sw_lock);
	while (!atomic_load(&mg->switched) && !atomic_load(&u->stopping))
		pthread_cond_wait(&mg->sw_cond, &mg->sw_lock);
	pthread_mutex_unlock(&mg->sw_lock);
	return atomic_load(&mg->switched) ? 0 : -1;
}

/* Read [off, pend) of chunks present on the source from the workload's memory. */
static int read_present(struct uffd *u, unsigned char *p, uint64_t off, uint64_t pend, struct err *e)
{
	for (uint64_t cc = off / u->chunk; cc * u->chunk < pend; cc++) {
		uint64_t t0 = now_ns();
		while (atomic_load(&u->state[cc]) != CH_PRESENT) {
			if (now_ns() - t0 > u->cfg.timeout_ns)
				return err_errno(e, ETIMEDOUT, "chunk %" PRIu64 " never arrived on the source", cc);
			sched_yield();
		}
	}
	size_t n = (size_t)(pend - off);
	struct iovec lv = {p, n}, rv = {(void *)(uintptr_t)(u->base + off), n};
	ssize_t got = process_vm_readv(u->r->workload_pid, &lv, 1, &rv, 1, 0);
	if (got != (ssize_t)n)
		return err_errno(e, got < 0 ? errno : EIO, "reading the source workload's memory at %" PRIu64, off);
	return 0;
}

/* Read [off, off + len) of the source's current content. */
static int mig_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	struct uffd_mig *mg = (struct uffd_mig *)b;
	struct uffd *u = mg->u;
	if (wait_switched(mg))
		return err_errno(e, ESHUTDOWN, "source is stopping");
	unsigned char *p = buf;
	uint64_t end = off + len;
	while (off < end) {
		uint64_t c = off / u->chunk;
		int absent = atomic_load(&u->state[c]) == CH_ABSENT;
		/* A run of chunks of the same kind. */
		uint64_t pend = (c + 1) * u->chunk;
		while (pend < end && (atomic_load(&u->state[pend / u->chunk]) == CH_ABSENT) == absent)
			pend += u->chunk;
		if (pend > end)
			pend = end;
		if (absent) {
			/* Never touched on the source: the remote copy is current. */
			struct remote *rm = uffd_fg(u, e);
			if (!rm || remote_pread(rm, p, (size_t)(pend - off), off, e))
				return -1;
		} else if (read_present(u, p, off, pend, e)) {
			return -1;
		}
		p += pend - off;
		off = pend;
	}
	atomic_fetch_add(&mg->served, len);
	return 0;
}

/* The export is read-only. */
static int mig_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	(void)b, (void)buf, (void)len, (void)off;
	return err_errno(e, EROFS, "the migration source is read-only");
}

/* Nothing to flush. */
static int mig_flush(struct backend *b, struct err *e)
{
	(void)b, (void)e;
	return 0;
}

/* Read-only. */
static int mig_trim(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	(void)b, (void)len, (void)off;
	return err_errno(e, EROFS, "the migration source is read-only");
}

/* Owned by struct uffd_mig. */
static void mig_close(struct backend *b)
{
	(void)b;
}

static const struct backend_ops mig_ops = {
	.kind = "uffd-migration-source",
	.read = mig_read,
	.write = mig_write,
	.flush = mig_flush,
	.trim = mig_trim,
	.zero = mig_trim,
	.close = mig_close,
};

/* hooks.stopping: release reads held until a switch-over that will not come. */
static void mig_stopping(struct uffd *u)
{
	struct uffd_mig *mg = u->hooks.arg;
	pthread_mutex_lock(&mg->sw_lock);
	pthread_cond_broadcast(&mg->sw_cond);
	pthread_mutex_unlock(&mg->sw_lock);
}

/* hooks.stopped: stop the migration server and free the export. */
static void mig_stopped(struct uffd *u)
{
	struct uffd_mig *mg = u->hooks.arg;
	if (mg->srv)
		nbd_server_free(mg->srv);
	log_debug("uffd: migration source served %llu bytes", (unsigned long long)mg->served);
	pthread_mutex_destroy(&mg->sw_lock);
	pthread_cond_destroy(&mg->sw_cond);
	free(mg);
	u->hooks.arg = NULL;
}

/* The export of the source's region, served read-only to the destination. */
static struct uffd_mig *mig_new(struct uffd *u, struct err *e)
{
	struct uffd_mig *mg = calloc(1, sizeof *mg);
	if (!mg)
		return err_errno(e, ENOMEM, "migration source"), NULL;
	mg->b.ops = &mig_ops;
	mg->b.size = u->size;
	snprintf(mg->b.spec, sizeof mg->b.spec, "uffd-source:%d", u->r->workload_pid);
	mg->u = u;
	pthread_mutex_init(&mg->sw_lock, NULL);
	pthread_cond_init(&mg->sw_cond, NULL);
	struct nbd_server_opts o = {.workers = MIG_SERVER_WORKERS, .readonly = 1};
	mg->srv = nbd_server_new(&mg->b, &o, e);
	if (!mg->srv) {
		pthread_mutex_destroy(&mg->sw_lock);
		pthread_cond_destroy(&mg->sw_cond);
		free(mg);
		return NULL;
	}
	return mg;
}

/* Let the destination connect (and handshake) before the downtime starts:
 * wait for its connections and its warm-up reads (uffd_dest_warm). */
static void wait_destination(struct uffd_mig *mg)
{
	struct uffd *u = mg->u;
	unsigned want = 1 + u->cfg.pullers + (u->chunk > UFFD_PAGE && (u->cfg.page_first || u->cfg.overtake));
	uint64_t t0 = now_ns();
	for (;;) {
		struct nbd_server_stats st;
		nbd_server_stats(mg->srv, &st);
		if (st.connections_active >= want && st.requests >= 1 + (want > 1 + u->cfg.pullers))
			break;
		if (now_ns() - t0 > DEST_WAIT_NS) {
			log_warn("uffd: only %llu of %u destination connections after %.0f s; switching anyway",
				 (unsigned long long)st.connections_active, want, (double)DEST_WAIT_NS / 1e9);
			break;
		}
		usleep(DEST_WAIT_POLL_US);
	}
}

/* Source local process: serve the region, suspend the writer, switch over. */
int uffd_migrate_source(struct region *r, struct migration *m, struct err *e)
{
	struct uffd *u = r->priv;
	const struct scenario *sc = u->sc;
	if (uffd_failed(u, e))
		return -1;
	struct uffd_mig *mg = mig_new(u, e);
	if (!mg)
		return -1;
	u->hooks.stopping = mig_stopping;
	u->hooks.stopped = mig_stopped;
	u->hooks.arg = mg;
	char port[16];
	snprintf(port, sizeof port, "%d", sc->mig_port);
	if (nbd_server_listen(mg->srv, sc->local_addr, port, e))
		return -1; /* uffd_stop frees the export */
	wait_destination(mg);
	atomic_store(&u->pull_paused, 1);
	if (m->suspend_source(m, e))
		return -1;
	pthread_mutex_lock(&mg->sw_lock);
	atomic_store(&mg->switched, 1);
	pthread_cond_broadcast(&mg->sw_cond);
	pthread_mutex_unlock(&mg->sw_lock);
	m->rounds = 1;
	m->bytes_moved = u->size; /* post-copy moves every byte once (the record's dest_bytes_pulled measures it) */
	m->bytes_resent = 0;
	return 0;
}

/* Completion of a warm-up read: discard. */
static void warm_done(void *arg, int error)
{
	(void)error;
	free(arg);
}

/*
 * Destination: one small read on each demand connection. The source holds
 * it until the switch-over; its arrival tells the source that the NBD
 * handshakes are done, so they are not part of the downtime.
 */
static void dest_warm(struct uffd *u)
{
	struct remote *rms[2] = {u->fg, u->pg};
	for (int i = 0; i < 2; i++) {
		void *b = rms[i] ? malloc(UFFD_PAGE) : NULL;
		struct err e = {0};
		if (b && remote_aio_pread(rms[i], b, UFFD_PAGE, 0, warm_done, b, &e))
			free(b);
	}
}

/* hooks.connect (destination puller): connect to the source as soon as it listens. */
static int dest_connect(struct uffd *u, struct err *e)
{
	struct err sub = {0};
	uint64_t t0 = now_ns(), tries = 0;
	while (!atomic_load(&u->stopping)) {
		err_clear(&sub);
		tries++;
		if (uffd_connect(u, &sub) == 0) {
			log_debug("uffd: connected to the migration source %s after %llu attempts, %.1f ms", u->uri,
				  (unsigned long long)tries, (double)(now_ns() - t0) / 1e6);
			dest_warm(u);
			return 0;
		}
		struct timespec ts = {0, CONNECT_RETRY_NS};
		nanosleep(&ts, NULL);
	}
	return err_set(e, "no connection to the migration source %s: %s", u->uri, sub.msg);
}

/* Destination process: an empty registered region pulling from the source
 * (no write tracking; the background pull starts after the first fault). */
int uffd_migrate_dest(const struct scenario *sc, struct region *r, const struct uffd_cfg *cfg, struct err *e)
{
	struct uffd_cfg c = *cfg;
	c.wp = 0;
	c.bg_after_fault = 1;
	struct uffd *u = uffd_new(sc, r, &c, e);
	if (!u)
		return -1;
	u->hooks.connect = dest_connect;
	uffd_set_uri(u, sc->local_addr, sc->mig_port);
	r->kind = REGION_ANON_UFFD;
	r->uffd_register_wp = 0;
	r->priv = u;
	return 0;
}
