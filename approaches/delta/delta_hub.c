/*
 * delta_hub.c - one source fanned out to N destinations.
 *
 * The hub's store receives from the source; through the store's hooks every
 * chunk written stamps the hub chunks it covers with the pending version,
 * and END commits the version and waits until every joined destination
 * acknowledged it before the source gets its ACK. One thread per
 * destination: connect + hash exchange against the hub's copy (a full
 * initial sync for a late joiner, reading chunk by chunk under the hub
 * store's lock, so others are not stalled), then it sends every chunk
 * stamped after the destination's version.
 */
#include "delta_hub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define HUB_DEST_ADDR "127.0.0.1"   /* destinations are receivers on the hub host's loopback */
#define HUB_CONNECT_TIMEOUT_MS 10000
#define HUB_RECONNECT_US 200000      /* pause before a destination's next connect attempt */
#define HUB_WAKE_MS 100              /* a destination's thread checks for stop this often */
#define HUB_DELAY_STEP_MS 10         /* granularity of a late joiner's delay */
#define HUB_JOIN_TIMEOUT_MS 60000    /* destinations present from the start join within this */
#define HUB_READ_WAIT_MS 120000      /* remote_read waits this long for every destination */

/* Stamp the hub chunks covering [off, off+len) with the pending version. */
static void hub_written(void *ctx, uint64_t off, uint64_t len)
{
	struct delta_hub *h = ctx;
	if (!len)
		return;
	pthread_mutex_lock(&h->mu);
	for (uint64_t i = off / h->chunk; i <= (off + len - 1) / h->chunk && i < h->nstamp; i++)
		h->stamp[i] = h->version + 1;
	pthread_mutex_unlock(&h->mu);
}

/* The region is resized to size bytes: new chunks and a shortened last
 * chunk carry the pending version. */
static void hub_resized(void *ctx, uint64_t size)
{
	struct delta_hub *h = ctx;
	pthread_mutex_lock(&h->mu);
	uint64_t n = (size + h->chunk - 1) / h->chunk;
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
			h->stamp[n - 1] = h->version + 1;
	}
	pthread_mutex_unlock(&h->mu);
}

/* Under h->mu: wait until the destinations acknowledged *v (read anew
 * after every wake-up) - every one with all, else the joined ones (and no
 * longer once the hub stops). Returns -1 when they did, or the index of
 * one still behind at the deadline. */
static int hub_wait_dests(struct delta_hub *h, const uint64_t *v, int all, unsigned ms)
{
	struct timespec dl;
	delta_deadline(&dl, ms);
	for (;;) {
		int behind = -1;
		for (int i = 0; i < h->ndests; i++) {
			const struct delta_hub_dest *d = &h->dests[i];
			if ((all || d->joined) && (!d->joined || d->version < *v))
				behind = i;
		}
		if (behind < 0 || (!all && h->stop))
			return -1;
		if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) == ETIMEDOUT)
			return behind;
	}
}

/* END from the source: commit the cycle and wait for every joined destination. */
static int hub_commit(void *ctx, struct err *e)
{
	struct delta_hub *h = ctx;
	pthread_mutex_lock(&h->mu);
	uint64_t v = ++h->version;
	pthread_cond_broadcast(&h->cv);
	int behind = hub_wait_dests(h, &v, 0, DELTA_ACK_TIMEOUT_MS);
	pthread_mutex_unlock(&h->mu);
	if (behind >= 0)
		return err_set(e, "hub: destination %d did not acknowledge cycle %llu in time", behind,
			       (unsigned long long)v);
	return 0;
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

/* The hub's copy as a sender's view, at its current size. */
static struct delta_view hub_view(struct delta_hub *h)
{
	pthread_mutex_lock(&h->store.mu);
	struct delta_view v = {.size = h->store.size, .read = hub_view_read, .ctx = h};
	pthread_mutex_unlock(&h->store.mu);
	return v;
}

/* Record a destination's state and wake whoever waits for it. */
static void hub_dest_set(struct delta_hub_dest *d, uint64_t version, int joined)
{
	struct delta_hub *h = d->hub;
	pthread_mutex_lock(&h->mu);
	d->version = version;
	d->joined = joined;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* Join: connect, exchange hashes and send the destination whatever the hub's
 * copy holds that it lacks; it then stands at the version seen before. */
static void hub_dest_join(struct delta_hub_dest *d)
{
	struct delta_hub *h = d->hub;
	struct err e = {0};
	struct delta_view v = hub_view(h);
	if (delta_sender_connect(&d->snd, v.size, HUB_CONNECT_TIMEOUT_MS, &e)) {
		log_warn("hub: destination %d: %s", d->idx, e.msg);
		usleep(HUB_RECONNECT_US);
		return;
	}
	pthread_mutex_lock(&h->mu);
	uint64_t v0 = h->version;
	pthread_mutex_unlock(&h->mu);
	if (delta_sender_cycle(&d->snd, &v, NULL, &e)) {
		log_warn("hub: destination %d: initial sync: %s", d->idx, e.msg);
		return;
	}
	hub_dest_set(d, v0, 1);
	log_debug("hub: destination %d joined at version %llu (%llu chunks)", d->idx, (unsigned long long)v0,
		  (unsigned long long)d->snd.last_chunks);
}

/* Wait for a version past the destination's and mark the chunks stamped
 * since; NULL when the hub stops (or out of memory: *n set to UINT64_MAX). */
static uint8_t *hub_dest_wait(struct delta_hub_dest *d, uint64_t *target, uint64_t *n)
{
	struct delta_hub *h = d->hub;
	pthread_mutex_lock(&h->mu);
	while (!h->stop && h->version <= d->version) {
		struct timespec dl;
		delta_deadline(&dl, HUB_WAKE_MS);
		pthread_cond_timedwait(&h->cv, &h->mu, &dl);
	}
	uint8_t *mask = NULL;
	if (!h->stop) {
		*target = h->version;
		*n = h->nstamp;
		mask = calloc(*n ? *n : 1, 1);
		for (uint64_t i = 0; mask && i < *n; i++)
			mask[i] = h->stamp[i] > d->version;
		if (!mask)
			*n = UINT64_MAX;
	}
	pthread_mutex_unlock(&h->mu);
	return mask;
}

/* One destination's thread: join (hash exchange), then forward cycles. */
static void *hub_dest_thread(void *arg)
{
	struct delta_hub_dest *d = arg;
	struct delta_hub *h = d->hub;
	for (unsigned waited = 0; waited < d->delay_ms && !h->stop; waited += HUB_DELAY_STEP_MS)
		usleep(HUB_DELAY_STEP_MS * 1000);
	while (!h->stop) {
		if (!d->snd.connected) {
			hub_dest_join(d);
			continue;
		}
		uint64_t target = 0, n = 0;
		uint8_t *mask = hub_dest_wait(d, &target, &n);
		if (!mask && n != UINT64_MAX)
			break;
		struct err e = {0};
		struct delta_view v = hub_view(h);
		if (!mask || n != (v.size + h->chunk - 1) / h->chunk || delta_sender_cycle(&d->snd, &v, mask, &e)) {
			if (e.set)
				log_warn("hub: destination %d: %s (reconnecting)", d->idx, e.msg);
			delta_sender_disconnect(&d->snd, 0);
			hub_dest_set(d, d->version, 0);
		} else {
			hub_dest_set(d, target, 1);
		}
		free(mask);
	}
	return NULL;
}

/* Open one destination's store and start its receiver; its sender targets it. */
static int hub_dest_open(struct delta_hub *h, int i, const char *dir, uint64_t size, unsigned late_ms,
			 const struct delta_tls *tls,
			 int (*prepare)(const char *path, int idx, void *ctx, struct err *e), void *ctx, struct err *e)
{
	struct delta_hub_dest *d = &h->dests[i];
	char path[4096];
	d->hub = h;
	d->idx = i;
	d->delay_ms = (i == h->ndests - 1 && h->ndests > 1) ? late_ms : 0;
	snprintf(path, sizeof path, "%s/delta-dest-%d", dir, i);
	int dport = 0;
	if (prepare(path, i, ctx, e) || delta_store_open(&d->store, path, size, e))
		return -1;
	if (tls)
		d->store.sec = *tls;
	if (delta_store_listen(&d->store, HUB_DEST_ADDR, &dport, e) ||
	    delta_sender_init(&d->snd, HUB_DEST_ADDR, dport, h->chunk, h->algo, DELTA_MODE_CHUNKS, h->workers, e))
		return -1;
	if (tls)
		d->snd.sec = *tls;
	return 0;
}

/* Start the destinations' threads; wait until those present from the start joined. */
static int hub_dests_start(struct delta_hub *h, struct err *e)
{
	for (int i = 0; i < h->ndests; i++) {
		struct delta_hub_dest *d = &h->dests[i];
		if (pthread_create(&d->th, NULL, hub_dest_thread, d))
			return err_set(e, "cannot start a hub thread");
		d->started = 1;
	}
	pthread_mutex_lock(&h->mu);
	struct timespec dl;
	delta_deadline(&dl, HUB_JOIN_TIMEOUT_MS);
	int late = -1;
	for (int i = 0; i < h->ndests; i++) {
		const struct delta_hub_dest *d = &h->dests[i];
		while (!d->delay_ms && !d->joined && late < 0)
			if (pthread_cond_timedwait(&h->cv, &h->mu, &dl) == ETIMEDOUT && !d->joined)
				late = i;
	}
	pthread_mutex_unlock(&h->mu);
	if (late >= 0)
		return err_set(e, "hub: destination %d did not join within %d s", late, HUB_JOIN_TIMEOUT_MS / 1000);
	return 0;
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
	h->store.hooks = (struct delta_store_hooks){.resized = hub_resized, .written = hub_written,
						    .commit = hub_commit, .ctx = h};
	if (tls)
		h->store.sec = *tls;
	for (int i = 0; i < ndests; i++)
		if (hub_dest_open(h, i, dir, size, late_ms, tls, prepare, ctx, e))
			return -1;
	/* Destinations present from the start join before the source connects. */
	if (hub_dests_start(h, e))
		return -1;
	return delta_store_listen(&h->store, addr, port, e);
}

/* Read the hub's copy once every destination caught up; compare them all. */
int delta_hub_read(struct delta_hub *h, void *buf, size_t len, uint64_t off, struct err *e)
{
	pthread_mutex_lock(&h->mu);
	int behind = hub_wait_dests(h, &h->version, 1, HUB_READ_WAIT_MS);
	uint64_t v = h->version;
	pthread_mutex_unlock(&h->mu);
	if (behind >= 0)
		return err_set(e, "hub: destination %d has not caught up with version %llu", behind,
			       (unsigned long long)v);
	if (delta_store_read(&h->store, buf, len, off, e))
		return -1;
	uint8_t *tmp = malloc(len);
	if (!tmp)
		return err_set(e, "out of memory");
	int rc = 0;
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
	pthread_mutex_lock(&h->mu);
	h->stop = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	delta_store_stop(&h->store);
	for (int i = 0; h->dests && i < h->ndests; i++) {
		struct delta_hub_dest *d = &h->dests[i];
		if (d->started)
			pthread_join(d->th, NULL);
		delta_sender_free(&d->snd);
		delta_store_stop(&d->store);
		if (d->store.path[0]) /* opened (a failed start leaves the later ones zeroed) */
			delta_store_close(&d->store);
	}
	if (h->store.path[0])
		delta_store_close(&h->store);
	free(h->dests);
	free(h->stamp);
	h->dests = NULL;
	h->stamp = NULL;
}
