/*
 * fuse_remote.c - the remote side of the fuse approach, and the local
 * side's subscription to its change notices.
 *
 * Remote process: the region's version-0 content served over NBD, by the
 * remote side every NBD-based approach shares (harness/nbd_side.h). In MODE_ACCESS a
 * publisher also listens on sc->ctl_port (fuse_ctl.h): another writer on
 * the remote changes the copy through it (WRITE), and every subscribed
 * local side is told which range changed (CHANGED). NBD itself has no
 * change notification, and writes arriving over NBD are the mount's own,
 * so only writes through the publisher are announced.
 *
 * With -o remote=URI the remote copy is any NBD server (nbdkit, qemu-nbd):
 * serve() fills it with the version-0 content through the client layer and
 * remote_read() reads it back from there; nothing is announced.
 *
 * Local process: fuse_watch_start() subscribes; each CHANGED range is
 * marked absent in the engine (refetched, ahead of the background order)
 * and dropped from the kernel's page cache, so the mapping sees the new
 * bytes at its next access.
 */
#include "fuse_impl.h"

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
#include "content.h"
#include "fuse_ctl.h"
#include "log.h"
#include "nbd_side.h"

#define PUB_MAX_CLIENTS 32
#define PUB_PIECE (1u << 20)

/* The remote side's state (h->priv). */
struct fuse_host {
	struct host inner;         /* the shared NBD remote side's host (its priv is its own) */
	struct backend *b;         /* memsync's own remote copy (inner's backend) */
	struct remote *ext;        /* -o remote=URI */
	int lfd;
	struct fuse_ctl_thread pub;
	int fds[PUB_MAX_CLIENTS], sub[PUB_MAX_CLIENTS], nfds;
	unsigned char *piece;
	uint64_t announced;
};

/* ---- the publisher ------------------------------------------------------- */

/* Tell every subscriber but `from` that [off, off + len) changed. */
static void announce(struct fuse_host *fh, int from, uint64_t off, uint64_t len)
{
	for (int i = 0; i < fh->nfds; i++) {
		struct err e = {0};
		if (fh->sub[i] && fh->fds[i] != from &&
		    fuse_ctl_send(fh->fds[i], FUSE_CTL_CHANGED, off, len, NULL, 0, &e))
			log_debug("fuse remote: subscriber gone: %s", e.msg);
	}
	fh->announced++;
}

/* WRITE from another writer: change the copy, then announce the range. */
static int pub_write(struct fuse_host *fh, int fd, const struct fuse_ctl_msg *m, struct err *e)
{
	uint64_t off = m->a, len = m->count;
	if (off > fh->b->size || len > fh->b->size - off)
		return err_errno(e, EINVAL, "write outside the region");
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < PUB_PIECE ? (size_t)(len - done) : PUB_PIECE;
		if (fuse_ctl_payload(fd, fh->piece, n, e) || backend_write(fh->b, fh->piece, n, off + done, e))
			return -1;
		done += n;
	}
	announce(fh, fd, off, len);
	return 0;
}

/* One message from client i; -1 drops the client. */
static int pub_client(struct fuse_host *fh, int i)
{
	struct fuse_ctl_msg m;
	struct err e = {0};
	int fd = fh->fds[i];
	if (fuse_ctl_recv(fd, &m, 0, &e))
		return -1;
	if (m.type == FUSE_CTL_SUB && !m.count) {
		fh->sub[i] = 1;
		return 0;
	}
	if (m.type != FUSE_CTL_WRITE) {
		log_warn("fuse remote: unexpected control message %u; closing the connection", m.type);
		return -1;
	}
	int rc = pub_write(fh, fd, &m, &e);
	if (rc)
		log_warn("fuse remote: WRITE [%" PRIu64 ", +%u) failed: %s", m.a, m.count, e.msg);
	struct err se = {0};
	if (fuse_ctl_send(fd, FUSE_CTL_ACK, rc ? (uint64_t)(e.code ? e.code : EIO) : 0, 0, NULL, 0, &se))
		return -1;
	return rc; /* a failed WRITE may have left payload unread: drop the client */
}

/* The publisher's thread: accept clients, serve their messages. */
static void *pub_run(void *arg)
{
	struct fuse_host *fh = arg;
	for (;;) {
		struct pollfd p[PUB_MAX_CLIENTS + 2] = {{fh->pub.stop[0], POLLIN, 0}, {fh->lfd, POLLIN, 0}};
		for (int i = 0; i < fh->nfds; i++)
			p[i + 2] = (struct pollfd){fh->fds[i], POLLIN, 0};
		if (poll(p, (nfds_t)fh->nfds + 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		for (int i = fh->nfds - 1; i >= 0; i--) {
			if (!p[i + 2].revents || pub_client(fh, i) == 0)
				continue;
			close(fh->fds[i]);
			fh->nfds--;
			fh->fds[i] = fh->fds[fh->nfds];
			fh->sub[i] = fh->sub[fh->nfds];
		}
		if (p[1].revents & POLLIN) {
			int fd = accept4(fh->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0 && fh->nfds < PUB_MAX_CLIENTS) {
				fh->fds[fh->nfds] = fd;
				fh->sub[fh->nfds++] = 0;
			} else if (fd >= 0) {
				close(fd);
			}
		}
	}
	for (int i = 0; i < fh->nfds; i++)
		close(fh->fds[i]);
	fh->nfds = 0;
	return NULL;
}

/* Listen on the control port and start the publisher. */
static int pub_start(struct fuse_host *fh, const char *addr, int port, struct err *e)
{
	if (!(fh->piece = malloc(PUB_PIECE)))
		return err_errno(e, ENOMEM, "fuse remote");
	if ((fh->lfd = fuse_ctl_listen(addr, port, e)) < 0)
		return -1;
	return fuse_ctl_thread_start(&fh->pub, pub_run, fh, e);
}

/* ---- the remote hooks ---------------------------------------------------- */

/* Fill an external remote with the version-0 content. */
static int fill_external(struct fuse_host *fh, const struct scenario *sc, struct err *e)
{
	if (remote_size(fh->ext) < sc->size)
		return err_set(e, "fuse: the remote %s has %" PRIu64 " bytes, the region needs %" PRIu64,
			       remote_uri(fh->ext), remote_size(fh->ext), sc->size);
	const size_t step = 4u << 20;
	unsigned char *buf = malloc(step);
	if (!buf)
		return err_errno(e, ENOMEM, "fuse remote");
	struct content_model m = {.seed = sc->seed, .size = sc->size, .versions = NULL};
	int rc = 0;
	for (uint64_t off = 0; !rc && off < sc->size; off += step) {
		size_t n = sc->size - off < step ? (size_t)(sc->size - off) : step;
		content_fill(&m, buf, off, n);
		rc = remote_pwrite(fh->ext, buf, n, off, e);
	}
	free(buf);
	return rc ? -1 : remote_flush(fh->ext, e);
}

/* Remote process: serve the version-0 copy (or fill the external one). */
int fuse_serve(struct host *h, struct err *e)
{
	const struct scenario *sc = h->sc;
	struct fuse_cfg cfg;
	if (fuse_cfg_parse(sc, &cfg, e))
		return -1;
	struct fuse_host *fh = calloc(1, sizeof *fh);
	if (!fh)
		return err_errno(e, ENOMEM, "fuse remote");
	fh->lfd = -1;
	h->priv = fh;
	if (cfg.remote[0]) {
		if (!(fh->ext = remote_connect(cfg.remote, 1, e)))
			return -1;
		return fill_external(fh, sc, e);
	}
	fh->inner = *h;
	fh->inner.priv = NULL;
	struct nbd_side_opts so = {.server.chunk_size = cfg.server_chunk};
	if (approach_nbd_serve_with(&fh->inner, &so, e))
		return -1;
	h->port = fh->inner.port;
	fh->b = approach_nbd_backend(&fh->inner);
	/* The control port is the migration destination's in MODE_MIGRATE. */
	if (sc->mode == MODE_ACCESS && sc->ctl_port > 0 && pub_start(fh, h->addr, sc->ctl_port, e))
		return -1;
	return 0;
}

/* Remote process: read the remote copy, for verification. */
int fuse_remote_read(struct host *h, void *buf, size_t len, uint64_t off, struct err *e)
{
	struct fuse_host *fh = h->priv;
	if (fh->ext)
		return remote_pread(fh->ext, buf, len, off, e);
	return approach_nbd_remote_read(&fh->inner, buf, len, off, e);
}

/* Remote process: stop everything (also after a failed serve). */
void fuse_serve_stop(struct host *h)
{
	struct fuse_host *fh = h->priv;
	if (!fh)
		return;
	h->priv = NULL;
	fuse_ctl_thread_stop(&fh->pub);
	if (fh->lfd >= 0)
		close(fh->lfd);
	approach_nbd_serve_stop(&fh->inner);
	if (fh->ext)
		remote_close(fh->ext);
	if (fh->announced)
		log_debug("fuse remote: %" PRIu64 " changes announced", fh->announced);
	free(fh->piece);
	free(fh);
}

/* ---- the local side's subscription ----------------------------------------- */

struct fuse_watch {
	struct fuse_local *l;
	int fd;
	struct fuse_ctl_thread t;
	uint64_t changes;
};

/* Refetch a changed range and drop it from the page cache. */
int fuse_apply_change(struct fuse_local *l, uint64_t off, uint64_t len, struct err *e)
{
	if (!len || off >= l->size)
		return 0;
	if (len > l->size - off)
		len = l->size - off;
	if (l->mg) {
		uint64_t c0 = off / l->cfg.chunk, c1 = (off + len - 1) / l->cfg.chunk;
		uint64_t *cs = malloc((c1 - c0 + 1) * sizeof *cs);
		if (!cs)
			return err_errno(e, ENOMEM, "fuse: change notice");
		for (uint64_t c = c0; c <= c1; c++)
			cs[c - c0] = c;
		int rc = managed_invalidate(l->mg, cs, (size_t)(c1 - c0 + 1), e);
		free(cs);
		if (rc)
			return -1;
	}
	/* After the engine: a READ racing this one already fetches the new bytes. */
	return fusefs_invalidate(l->fs, off, len, e);
}

/* The subscriber's thread: apply every CHANGED notice. */
static void *watch_run(void *arg)
{
	struct fuse_watch *w = arg;
	for (;;) {
		struct pollfd p[2] = {{w->t.stop[0], POLLIN, 0}, {w->fd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		if (!p[1].revents)
			continue;
		struct fuse_ctl_msg m;
		struct err e = {0};
		int rc = fuse_ctl_recv(w->fd, &m, 0, &e);
		if (rc == 0 && (m.type != FUSE_CTL_CHANGED || m.count))
			rc = err_set(&e, "unexpected control message %u", m.type);
		if (rc) {
			if (!atomic_load(&w->l->stopping))
				log_debug("fuse: change notices ended: %s", rc > 0 ? "the remote closed" : e.msg);
			break;
		}
		w->changes++;
		log_debug("fuse: the remote changed [%" PRIu64 ", +%" PRIu64 ")", m.a, m.b);
		if (fuse_apply_change(w->l, m.a, m.b, &e)) {
			char msg[600];
			snprintf(msg, sizeof msg, "fuse: applying a change notice failed: %s", e.msg);
			fuse_fatal(w->l, msg);
			break;
		}
	}
	return NULL;
}

/* Subscribe to the remote side's change notices. */
struct fuse_watch *fuse_watch_start(struct fuse_local *l, struct err *e)
{
	struct fuse_watch *w = calloc(1, sizeof *w);
	if (!w)
		return err_errno(e, ENOMEM, "fuse"), NULL;
	w->l = l;
	if ((w->fd = fuse_ctl_connect(l->sc->remote_addr, l->sc->ctl_port, 5000, e)) < 0 ||
	    fuse_ctl_send(w->fd, FUSE_CTL_SUB, 0, 0, NULL, 0, e) || fuse_ctl_thread_start(&w->t, watch_run, w, e)) {
		fuse_ctl_thread_stop(&w->t);
		if (w->fd >= 0)
			close(w->fd);
		free(w);
		return NULL;
	}
	return w;
}

/* Unsubscribe and stop the thread. */
void fuse_watch_stop(struct fuse_watch *w)
{
	if (!w)
		return;
	fuse_ctl_thread_stop(&w->t);
	close(w->fd);
	if (w->changes)
		log_debug("fuse: %" PRIu64 " change notices applied", w->changes);
	free(w);
}
