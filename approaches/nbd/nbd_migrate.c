/*
 * nbd_migrate.c - two-phase migration for the nbd approach, with a seeder
 * and a leecher as in the thesis.
 *
 * Source (local process of host 0, the seeder): from open() on, the managed
 * engine tracks every chunk written and memsync's NBD server serves the
 * engine to the destination on sc->mig_port, while the writer runs on the
 * source's /dev/nbdX.
 *
 * Destination (host 2, the leecher): its own /dev/nbdY backed by a managed
 * engine whose remote is the seeder, so the background pull copies the
 * region while the writer still runs; a control listener on sc->ctl_port.
 *
 * Finalize (migrate_source): [precopy=wait: ask the leecher to report when
 * its pull is complete, writing the source's device back meanwhile], suspend the writer (the workload has msync'd),
 * write back the source's device into the engine, take the tracked dirty
 * list and send it to the leecher, which marks those chunks absent (they
 * are pulled first, from the seeder), drops its device's clean pages, and
 * answers; the writer then resumes on the destination. Everything before
 * the suspension changes nothing, so a failed finalize can be retried.
 *
 * A leecher seeds the next hop (nbd_seed_next): the same seeder on its
 * engine, the same finalize from its side (A -> B -> C, tests/test-nbd-chain.sh).
 *
 * Control messages (TCP, big-endian): 'W' -> status; 'D' u64 n, n x u64
 * chunk -> status. A status is one byte (0 = ok) and, when not ok, u16
 * length + message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "log.h"
#include "nbd_int.h"
#include "nbd_proto.h"

#define SEED_WORKERS 8                  /* server threads per leecher connection */
#define CTL_CONNECT_NS 10000000000ull   /* the source tries the control port this long */
#define WAIT_SLICE_MS 200               /* the leecher checks for a stop this often */
#define MAX_DIRTY (1ull << 26)          /* chunks in one dirty list */
#define WRITEBACK_MS 100                /* the source writes its device back this often during the pull */

struct nbd_seed {
	struct nbd_server *srv;
	uint64_t kill_after;            /* test hook (fault_seeder_kill) */
	pthread_t watch;
	int watching;
	atomic_int stop;
};

struct nbd_leech {
	struct nbd_local *l;
	struct region *r;               /* its counters follow the pull */
	int lfd;
	pthread_t thr;
	int running;
	atomic_int stop;
};

/* An IPv4 address and port. */
static int sockaddr_of(const char *addr, int port, struct sockaddr_in *sa, struct err *e)
{
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
		return err_set(e, "nbd: bad address '%s'", addr);
	return 0;
}

/* ---- seeder ---------------------------------------------------------------- */

/* Test hook: kill this process once the seeder served kill_after bytes. */
static void *seed_watch(void *arg)
{
	struct nbd_seed *s = arg;
	while (!atomic_load(&s->stop)) {
		struct nbd_server_stats st;
		nbd_server_stats(s->srv, &st);
		if (st.bytes_read >= s->kill_after) {
			log_warn("nbd: fault_seeder_kill: the seeder served %llu bytes, killing its process",
				 (unsigned long long)st.bytes_read);
			kill(getpid(), SIGKILL);
		}
		usleep(1000);
	}
	return NULL;
}

/* Source: track writes and serve the engine to the leecher on sc->mig_port. */
int nbd_seed_start(struct nbd_local *l, struct err *e)
{
	struct nbd_seed *s = calloc(1, sizeof *s);
	if (!s)
		return err_errno(e, ENOMEM, "nbd: seeder");
	l->seed = s;
	managed_track_start(l->mg);
	struct nbd_server_opts o = {.workers = SEED_WORKERS, .readonly = 1};
	if (!(s->srv = nbd_server_new(l->b, &o, e)))
		return -1;
	char port[16];
	snprintf(port, sizeof port, "%d", l->sc->mig_port);
	if (nbd_server_listen(s->srv, l->sc->local_addr, port, e))
		return -1;
	s->kill_after = l->cfg.fault_seeder_kill;
	if (s->kill_after && pthread_create(&s->watch, NULL, seed_watch, s) == 0)
		s->watching = 1;
	return 0;
}

/* A leecher seeds the next hop: its engine starts tracking writes and is
 * served on next->local_addr:next->mig_port; its finalize reaches the next
 * leecher at next->third_addr:next->ctl_port (fault_seeder_kill from next). */
int nbd_seed_next(struct region *r, const struct scenario *next, struct err *e)
{
	struct nbd_local *l = r->priv;
	if (!l || !l->mg)
		return err_set(e, "nbd: seeding the next hop needs a managed mount");
	if (l->seed)
		return err_set(e, "nbd: already seeding");
	if (scenario_opt_size(next, "fault_seeder_kill", 0, &l->cfg.fault_seeder_kill, e))
		return -1;
	l->sc = next;
	return nbd_seed_start(l, e);
}

/* Send a status reply (0 = ok, else with e's message). */
static int ctl_reply(int fd, const struct err *e)
{
	unsigned char h[3] = {e && e->set, 0, 0};
	size_t len = e && e->set ? strlen(e->msg) : 0;
	if (!h[0])
		return write_all(fd, h, 1);
	nbd_put16(h + 1, (uint16_t)len);
	return write_all(fd, h, 3) || write_all(fd, e->msg, len) ? -1 : 0;
}

/* Read a status reply. */
static int ctl_status(int fd, const char *what, struct err *e)
{
	unsigned char h[3];
	if (read_all(fd, h, 1))
		return err_errno(e, errno, "nbd migration: no answer from the leecher to %s", what);
	if (!h[0])
		return 0;
	char msg[512] = "";
	if (read_all(fd, h + 1, 2))
		return err_errno(e, errno, "nbd migration: short answer to %s", what);
	size_t len = nbd_get16(h + 1);
	if (len >= sizeof msg || read_all(fd, msg, len))
		return err_set(e, "nbd migration: bad answer to %s", what);
	msg[len] = 0;
	return err_set(e, "nbd migration: the leecher failed %s: %s", what, msg);
}

/* Connect to the leecher's control port, retrying while it starts. */
static int ctl_connect(const struct scenario *sc, struct err *e)
{
	struct sockaddr_in sa;
	if (sockaddr_of(sc->third_addr, sc->ctl_port, &sa, e))
		return -1;
	uint64_t t0 = now_ns();
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return err_errno(e, errno, "nbd migration: socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			return fd;
		}
		int saved = errno;
		close(fd);
		if (now_ns() - t0 > CTL_CONNECT_NS)
			return err_errno(e, saved, "nbd migration: cannot reach the leecher at %s:%d", sc->third_addr,
					 sc->ctl_port);
		usleep(5000);
	}
}

/* Send the dirty list ('D') and wait for the leecher's answer. */
static int send_dirty(int fd, const uint64_t *chunks, size_t n, struct err *e)
{
	size_t len = 9 + n * 8;
	unsigned char *msg = malloc(len);
	if (!msg)
		return err_errno(e, ENOMEM, "nbd migration: dirty list");
	msg[0] = 'D';
	nbd_put64(msg + 1, n);
	for (size_t i = 0; i < n; i++)
		nbd_put64(msg + 9 + i * 8, chunks[i]);
	int rc = write_all(fd, msg, len) ? err_errno(e, errno, "nbd migration: sending the dirty list") : 0;
	free(msg);
	return rc ? -1 : ctl_status(fd, "the dirty list", e);
}

/* Wait for the leecher's answer to 'W', writing the source's device back every slice. */
static int precopy_wait(struct nbd_local *l, int fd, struct err *e)
{
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		int n = poll(&p, 1, WRITEBACK_MS);
		if (n > 0)
			return ctl_status(fd, "the pre-copy pull", e);
		if (n < 0 && errno != EINTR)
			return err_errno(e, errno, "nbd migration: poll");
		if (fsync(l->mt.dev.fd))
			return err_errno(e, errno, "nbd migration: writing back %s", l->mt.dev.path);
	}
}

/* Source: finalize the migration. */
int nbd_migrate_source(struct region *r, struct migration *m, struct err *e)
{
	struct nbd_local *l = r->priv;
	if (!l->seed)
		return err_set(e, "nbd: not seeding (open() was not in migration mode)");
	int fd = ctl_connect(l->sc, e);
	if (fd < 0)
		return -1;
	int rc = 0;
	uint64_t t0 = now_ns(), t1 = t0, t2 = t0, t3 = t0;
	/* Phase 1: the leecher pulls everything while the writer runs; the
	 * source's dirty pages are written back meanwhile, so the suspension
	 * (the workload's msync) finds few. */
	if (l->cfg.precopy_wait && write_all(fd, "W", 1))
		rc = err_errno(e, errno, "nbd migration: asking for the pre-copy pull");
	if (!rc && l->cfg.precopy_wait)
		rc = precopy_wait(l, fd, e);
	t1 = now_ns();
	if (!rc && fsync(l->mt.dev.fd))
		rc = err_errno(e, errno, "nbd migration: writing back %s", l->mt.dev.path);
	/* Phase 2: suspend, write back, hand over the dirty list. */
	size_t n = 0;
	uint64_t *dirty = NULL;
	t2 = now_ns();
	if (!rc)
		rc = m->suspend_source(m, e);
	t3 = now_ns();
	if (!rc)
		rc = nbd_mount_flush(&l->mt, e);
	log_debug("nbd migration: pre-copy %.3f s, writeback %.3f s, writer stopped in %.3f s, device flushed in %.3f s",
		  (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9, (double)(t3 - t2) / 1e9,
		  (double)(now_ns() - t3) / 1e9);
	if (!rc && !(dirty = managed_track_take(l->mg, &n, e)) && n)
		rc = -1;
	if (!rc && n > MAX_DIRTY)
		rc = err_set(e, "nbd migration: %zu dirty chunks", n);
	if (!rc)
		rc = send_dirty(fd, dirty, n, e);
	free(dirty);
	close(fd);
	nbd_local_counters(l, r);
	struct nbd_server_stats st;
	nbd_server_stats(l->seed->srv, &st);
	m->rounds = 2;
	m->bytes_moved = st.bytes_read;
	m->bytes_resent = (uint64_t)n * l->cfg.mgo.chunk_size;
	log_debug("nbd migration: %zu dirty chunks handed over, %llu bytes served so far", n,
		  (unsigned long long)st.bytes_read);
	return rc;
}

/* ---- leecher --------------------------------------------------------------- */

/* 'W': wait until the background pull has brought every chunk. */
static int leech_wait(struct nbd_leech *lc, struct err *e)
{
	while (!atomic_load(&lc->stop)) {
		struct err sub = {0};
		if (managed_wait_pulled(lc->l->mg, WAIT_SLICE_MS, &sub) == 0)
			return 0;
		struct managed_stats s;
		managed_stats(lc->l->mg, &s);
		if (s.pull_failed)
			return err_set(e, "the pull from the seeder failed: %s", sub.msg);
	}
	return err_set(e, "the leecher is stopping");
}

/* 'D': mark the dirty chunks absent (pulled first) and drop stale device pages. */
static int leech_dirty(struct nbd_leech *lc, int fd, struct err *e)
{
	unsigned char h[8];
	if (read_all(fd, h, 8))
		return err_errno(e, errno, "reading the dirty list");
	uint64_t n = nbd_get64(h);
	if (n > MAX_DIRTY)
		return err_set(e, "dirty list of %llu chunks", (unsigned long long)n);
	uint64_t *c = malloc((n ? n : 1) * 8);
	unsigned char *raw = malloc((n ? n : 1) * 8);
	int rc = !c || !raw ? err_errno(e, ENOMEM, "dirty list") : 0;
	if (!rc && n && read_all(fd, raw, n * 8))
		rc = err_errno(e, errno, "reading the dirty list");
	for (uint64_t i = 0; !rc && i < n; i++)
		c[i] = nbd_get64(raw + i * 8);
	if (!rc)
		rc = managed_invalidate(lc->l->mg, c, (size_t)n, e);
	if (!rc)
		rc = nbd_mount_flush(&lc->l->mt, e);
	free(c);
	free(raw);
	return rc;
}

/* One control connection: commands until the source closes it. */
static void leech_serve(struct nbd_leech *lc, int fd)
{
	for (char cmd; !atomic_load(&lc->stop) && read_all(fd, &cmd, 1) == 0;) {
		struct err e = {0};
		if (cmd == 'W')
			leech_wait(lc, &e);
		else if (cmd == 'D')
			leech_dirty(lc, fd, &e);
		else
			err_set(&e, "unknown control command %d", cmd);
		if (e.set)
			log_warn("nbd leecher: %s", e.msg);
		if (ctl_reply(fd, &e) || cmd != 'W')
			break;
	}
	close(fd);
}

/* The control listener's thread. */
static void *leech_main(void *arg)
{
	struct nbd_leech *lc = arg;
	while (!atomic_load(&lc->stop)) {
		nbd_local_counters(lc->l, lc->r);
		struct pollfd p = {lc->lfd, POLLIN, 0};
		if (poll(&p, 1, WAIT_SLICE_MS) <= 0)
			continue;
		int fd = accept4(lc->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			leech_serve(lc, fd);
	}
	return NULL;
}

/* Listen on the destination's control port. */
static int leech_listen(struct nbd_leech *lc, const struct scenario *sc, struct err *e)
{
	struct sockaddr_in sa;
	if (sockaddr_of(sc->third_addr, sc->ctl_port, &sa, e))
		return -1;
	lc->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (lc->lfd < 0)
		return err_errno(e, errno, "nbd leecher: socket");
	setsockopt(lc->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lc->lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lc->lfd, 4))
		return err_errno(e, errno, "nbd leecher: cannot listen on %s:%d", sc->third_addr, sc->ctl_port);
	int rc = pthread_create(&lc->thr, NULL, leech_main, lc);
	if (rc)
		return err_errno(e, rc, "nbd leecher: thread");
	lc->running = 1;
	return 0;
}

/* Destination: the leecher's device pulling from the seeder, and the control listener. */
int nbd_migrate_dest(const struct scenario *sc, struct region *r, struct err *e)
{
	struct nbd_local *l = calloc(1, sizeof *l);
	struct nbd_leech *lc = calloc(1, sizeof *lc);
	if (!l || !lc) {
		free(l);
		free(lc);
		return err_errno(e, ENOMEM, "nbd: leecher");
	}
	l->mt.dev.index = -1;
	l->mt.dev.fd = -1;
	l->sc = sc;
	l->leech = lc;
	l->leecher = 1;
	lc->l = l;
	lc->r = r;
	lc->lfd = -1;
	r->priv = l;
	if (nbd_parse_opts(sc, &l->cfg, e))
		return -1;
	char uri[128];
	snprintf(uri, sizeof uri, "nbd://%s:%d/", sc->local_addr, sc->mig_port);
	if (nbd_local_start(l, uri, r, e))
		return -1;
	return leech_listen(lc, sc, e);
}

/* Stop the seeder or the control listener. */
void nbd_migrate_stop(struct nbd_local *l)
{
	struct nbd_seed *s = l->seed;
	if (s) {
		atomic_store(&s->stop, 1);
		if (s->watching)
			pthread_join(s->watch, NULL);
		if (s->srv)
			nbd_server_free(s->srv);
		free(s);
		l->seed = NULL;
	}
	struct nbd_leech *lc = l->leech;
	if (lc) {
		atomic_store(&lc->stop, 1);
		if (lc->running)
			pthread_join(lc->thr, NULL);
		if (lc->lfd >= 0)
			close(lc->lfd);
		free(lc);
		l->leech = NULL;
	}
}
