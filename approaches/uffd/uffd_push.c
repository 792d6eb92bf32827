/*
 * uffd_push.c - the uffd core's write tracking: push of dirty chunks.
 *
 * With wp=on pages are installed write-protected; the fault handlers mark a
 * chunk dirty on its first write and unprotect it (uffd_fault.c). A push
 * (sync, and every push_interval) clears each dirty flag and re-protects
 * the chunk first, so writes during the push fault again, then reads runs
 * of dirty chunks from the workload (process_vm_readv, or memcpy when the
 * region is mapped in this process) and writes them to the remote
 * asynchronously on the background client.
 */
#include "uffd_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include "clock.h"

/* Completion of a push write (poller thread). */
static void push_done(void *arg, int error)
{
	struct uffd_slot *s = arg;
	struct uffd *u = s->u;
	if (error) {
		atomic_store(&u->push_error, error);
		/* Dirty again, so a later sync retries it. */
		for (uint64_t c = s->c0; c < s->c0 + s->n; c++)
			atomic_store(&u->dirty[c], 1);
	} else {
		uffd_count(&u->r->bytes_pushed, uffd_run_len(u, s->c0, s->n));
	}
	pthread_mutex_lock(&u->push_lock);
	u->push_pending--;
	pthread_cond_broadcast(&u->push_cond);
	pthread_mutex_unlock(&u->push_lock);
	uffd_slot_put(u, s);
}

/* Clear chunk c's dirty flag and write-protect it again; 1 if it was dirty. */
static int take_dirty(struct uffd *u, uint64_t c, struct err *e)
{
	if (!atomic_load(&u->dirty[c]))
		return 0;
	/* Dirty implies installed; the state store may lag the copy by a moment. */
	uint64_t t0 = now_ns();
	while (atomic_load(&u->state[c]) != CH_PRESENT) {
		if (now_ns() - t0 > u->cfg.timeout_ns)
			return err_set(e, "dirty chunk %" PRIu64 " never became present", c);
		sched_yield();
	}
	pthread_mutex_t *l = uffd_lock(u, c);
	pthread_mutex_lock(l);
	int was = atomic_exchange(&u->dirty[c], 0);
	int rc = 0, en = 0;
	if (was) {
		struct uffdio_writeprotect wp = {.range = {u->base + c * u->chunk, uffd_run_len(u, c, 1)},
						 .mode = UFFDIO_WRITEPROTECT_MODE_WP};
		rc = ioctl(u->uffd, UFFDIO_WRITEPROTECT, &wp);
		en = errno;
	}
	pthread_mutex_unlock(l);
	if (rc)
		return err_errno(e, en, "UFFDIO_WRITEPROTECT of chunk %" PRIu64, c);
	return was;
}

/* Take the run of dirty chunks that starts at chunk c, up to max: its
 * length (0 when c is clean), or -1. */
static int64_t take_dirty_run(struct uffd *u, uint64_t c, uint64_t max, struct err *e)
{
	int d = take_dirty(u, c, e);
	if (d <= 0)
		return d;
	uint64_t n = 1;
	while (n < max && c + n < u->nchunks) {
		int d2 = take_dirty(u, c + n, e);
		if (d2 < 0)
			return -1;
		if (!d2)
			break;
		n++;
	}
	return (int64_t)n;
}

/* Read chunks [c, c + n) from the workload and write them to the remote. */
static int push_run(struct uffd *u, uint64_t c, uint64_t n, struct err *e)
{
	struct uffd_slot *s = uffd_slot_get(u);
	if (!s)
		return err_set(e, "stopping");
	s->c0 = c;
	s->n = n;
	uint64_t off = c * u->chunk, len = uffd_run_len(u, c, n);
	struct iovec lv = {s->buf, len}, rv = {(void *)(uintptr_t)(u->base + off), len};
	ssize_t got = (ssize_t)len;
	if (u->same_mm) /* our own memory; dirty chunks are present */
		memcpy(s->buf, (const void *)(uintptr_t)(u->base + off), len);
	else
		got = process_vm_readv(u->r->workload_pid, &lv, 1, &rv, 1, 0);
	if (got != (ssize_t)len) {
		uffd_slot_put(u, s);
		return err_errno(e, got < 0 ? errno : EIO,
				 "reading %" PRIu64 " dirty bytes at offset %" PRIu64 " from the workload (pid %d)", len,
				 off, u->r->workload_pid);
	}
	pthread_mutex_lock(&u->push_lock);
	u->push_pending++;
	pthread_mutex_unlock(&u->push_lock);
	atomic_store(&s->t_submit, now_ns());
	if (remote_aio_pwrite(u->bg, s->buf, len, off, push_done, s, e)) {
		pthread_mutex_lock(&u->push_lock);
		u->push_pending--;
		pthread_mutex_unlock(&u->push_lock);
		uffd_slot_put(u, s);
		return -1;
	}
	return 0;
}

/* Wait for every push write, bounded by the watchdog (a hang is fatal). */
static int wait_pushes(struct uffd *u, int rc, struct err *e)
{
	pthread_mutex_lock(&u->push_lock);
	while (u->push_pending > 0 && !atomic_load(&u->failed))
		pthread_cond_wait(&u->push_cond, &u->push_lock);
	pthread_mutex_unlock(&u->push_lock);
	int perr = atomic_exchange(&u->push_error, 0);
	if (!rc && perr)
		rc = err_errno(e, perr, "writing dirty chunks to the remote %s failed", u->uri);
	if (!rc)
		rc = uffd_failed(u, e);
	return rc;
}

/* Push every dirty chunk to the remote and wait for the writes. */
static int push_dirty(struct uffd *u, struct err *e)
{
	if (!u->cfg.wp || !u->bg)
		return 0;
	pthread_mutex_lock(&u->sync_lock);
	int rc = 0;
	uint64_t max = u->cfg.batch / u->chunk;
	if (max < 1)
		max = 1;
	for (uint64_t c = 0; c < u->nchunks;) {
		int64_t n = take_dirty_run(u, c, max, e);
		if (n < 0 || (n > 0 && push_run(u, c, (uint64_t)n, e))) {
			rc = -1;
			break;
		}
		c += n ? (uint64_t)n : 1;
	}
	rc = wait_pushes(u, rc, e);
	pthread_mutex_unlock(&u->sync_lock);
	return rc;
}

/* Push every dirty chunk unless the handler failed. */
int uffd_push(struct uffd *u, struct err *e)
{
	if (uffd_failed(u, e))
		return -1;
	return push_dirty(u, e);
}

/* Pusher thread: push dirty chunks every push_interval. */
void *uffd_pusher_main(void *arg)
{
	struct uffd *u = arg;
	while (!atomic_load(&u->stopping)) {
		uffd_nap(u, u->cfg.push_interval_ns);
		if (atomic_load(&u->stopping))
			break;
		struct err e = {0};
		if (push_dirty(u, &e) && !atomic_load(&u->stopping))
			uffd_fatal(u, "periodic push: %s", e.msg);
	}
	return NULL;
}
