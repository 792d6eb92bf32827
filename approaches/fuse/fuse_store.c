/*
 * fuse_store.c - what the kernel's page cache holds: prefetch stores
 * (FUSE_NOTIFY_STORE, the message of libfuse's fuse_lowlevel_notify_store)
 * that can never overwrite a page the workload may have written, and
 * invalidation.
 *
 * The kernel overwrites any page a store covers, dirty or not, and a page
 * can be dirty only after it became uptodate: through a READ reply, or a
 * store. Stores never revisit a chunk (until it is invalidated), so the
 * danger is a READ racing a store over the same pages: the kernel locks
 * the pages of a READ before the daemon sees it, the store then waits for
 * those page locks, the READ's reply makes them uptodate, the workload may
 * write them, and only then does the store copy its (older) bytes in.
 *
 * So: every page a READ or WRITE covers is claimed (before the reply), and
 * the storer stores runs of unclaimed pages, one notify per run, from its
 * own buffer. A READ that finds the storer's current run overlapping its
 * pages makes that part of the storer's buffer inaccessible (mprotect
 * PROT_NONE) before it replies: the kernel copies a store's bytes from the
 * storer's memory only once it holds the page, so the copy into any of the
 * READ's pages fails (EFAULT) and the store ends there; the READ's pages
 * keep what the READ brought and whatever the workload wrote. Pages of the
 * run before them were stored before the READ locked its pages, or the
 * READ would not have covered them. READs never wait.
 *
 * Invalidation bumps a generation: a store of bytes read before it is
 * dropped, and a run under way in its range ends first. Claims carry the
 * generation they were made in, so after the kernel dropped the range only
 * the claims made before the invalidation lapse (a READ racing it keeps its
 * pages claimed).
 */
#include "fuse_fs_int.h"

#include <errno.h>
#include <linux/fuse.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "log.h"

/* Is page p claimed by a READ or WRITE since its chunk's last invalidation? */
static int claimed(struct fusefs *fs, uint64_t p)
{
	return atomic_load(&fs->claim[p]) > atomic_load(&fs->inval_gen[p * FUSEFS_PAGE / fs->o.chunk]);
}

/* A READ or WRITE reached [off, off + len): claim its pages; a READ also
 * keeps a store under way out of them (see above). */
void fusefs_claim(struct fusefs *fs, uint64_t off, uint64_t len, int is_read)
{
	if (!len)
		return;
	uint64_t p0 = off / FUSEFS_PAGE, p1 = (off + len - 1) / FUSEFS_PAGE;
	uint32_t g = (uint32_t)atomic_load(&fs->gen) + 1;
	for (uint64_t p = p0; p <= p1; p++)
		if (atomic_load_explicit(&fs->claim[p], memory_order_relaxed) < g)
			atomic_store(&fs->claim[p], g);
	if (!is_read)
		return;
	pthread_mutex_lock(&fs->store_mu);
	uint64_t a = p0 * FUSEFS_PAGE, b = (p1 + 1) * FUSEFS_PAGE;
	if (fs->run_len && a < fs->run_off + fs->run_len && b > fs->run_off) {
		uint64_t from = a > fs->run_off ? a : fs->run_off;
		uint64_t to = b < fs->run_off + fs->run_len ? b : fs->run_off + fs->run_len;
		if (mprotect(fs->run_buf + (from - fs->run_off), to - from, PROT_NONE))
			log_warn("fuse: cannot fence the store's buffer: %s", strerror(errno));
		fs->run_poisoned = 1;
		atomic_fetch_add(&fs->store_fences, 1);
	}
	pthread_mutex_unlock(&fs->store_mu);
}

/* Has the kernel seen all of [off, off + len), or has it been stored? */
int fusefs_seen(struct fusefs *fs, uint64_t off, uint64_t len)
{
	for (uint64_t c = off / fs->o.chunk; len && c <= (off + len - 1) / fs->o.chunk && c < fs->nchunks; c++)
		if (atomic_load(&fs->kstate[c]) != K_NONE)
			return 1;
	for (uint64_t p = off / FUSEFS_PAGE; len && p <= (off + len - 1) / FUSEFS_PAGE; p++)
		if (!claimed(fs, p))
			return 0;
	return 1;
}

/* The invalidation generation: read it before fetching the bytes to store. */
uint64_t fusefs_generation(struct fusefs *fs)
{
	return atomic_load(&fs->gen);
}

/* Publish the run of unclaimed pages starting at page p (at most n pages) as
 * the one being stored; its length in pages (0: p is claimed or the bytes
 * are stale). */
static uint64_t run_begin(struct fusefs *fs, uint64_t p, uint64_t n, unsigned char *buf, uint64_t gen)
{
	pthread_mutex_lock(&fs->store_mu);
	uint64_t k = 0;
	if (gen == atomic_load(&fs->gen))
		while (k < n && !claimed(fs, p + k))
			k++;
	if (k) {
		fs->run_off = p * FUSEFS_PAGE;
		fs->run_len = k * FUSEFS_PAGE;
		fs->run_buf = buf;
		fs->run_poisoned = 0;
	}
	pthread_mutex_unlock(&fs->store_mu);
	return k;
}

/* The run is over: make the buffer whole again, wake invalidations. */
static void run_end(struct fusefs *fs)
{
	pthread_mutex_lock(&fs->store_mu);
	if (fs->run_poisoned && mprotect(fs->run_buf, fs->run_len, PROT_READ | PROT_WRITE))
		log_warn("fuse: cannot restore the store's buffer: %s", strerror(errno));
	fs->run_len = 0;
	fs->run_poisoned = 0;
	pthread_cond_broadcast(&fs->store_cond);
	pthread_mutex_unlock(&fs->store_mu);
}

/* One FUSE_NOTIFY_STORE message, written to the device here rather than by
 * libfuse (which prints every failed write, and EFAULT is the fence
 * working); 0 or -errno. */
static int notify_store(struct fusefs *fs, uint64_t off, const void *data, size_t len)
{
	struct fuse_notify_store_out arg = {.nodeid = INO_FILE, .offset = off, .size = (uint32_t)len};
	struct fuse_out_header h = {.len = (uint32_t)(sizeof h + sizeof arg + len), .error = FUSE_NOTIFY_STORE};
	struct iovec iov[3] = {{&h, sizeof h}, {&arg, sizeof arg}, {(void *)data, len}};
	ssize_t n;
	do
		n = writev(fuse_session_fd(fs->se), iov, 3);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : 0;
}

/* Store the unclaimed pages of one chunk (bytes read at generation gen),
 * unless it was stored before. Returns 1 if any page was stored. */
static int store_chunk(struct fusefs *fs, uint64_t c, unsigned char *data, size_t len, uint64_t gen, struct err *e)
{
	uint8_t none = K_NONE;
	if (!atomic_compare_exchange_strong(&fs->kstate[c], &none, K_STORING))
		return 0;
	uint64_t p0 = c * fs->o.chunk / FUSEFS_PAGE, np = (len + FUSEFS_PAGE - 1) / FUSEFS_PAGE;
	int stored = 0, rc = 0;
	for (uint64_t i = 0; i < np && !rc;) {
		uint64_t k = run_begin(fs, p0 + i, np - i, data + i * FUSEFS_PAGE, gen);
		if (!k) {
			atomic_fetch_add(&fs->store_skips, 1);
			i++;
			continue;
		}
		size_t n = (size_t)(k * FUSEFS_PAGE);
		if (i * FUSEFS_PAGE + n > len)
			n = len - i * FUSEFS_PAGE;
		rc = notify_store(fs, (p0 + i) * FUSEFS_PAGE, data + i * FUSEFS_PAGE, n);
		run_end(fs);
		if (rc == -EFAULT) /* a READ fenced part of the run: what came before it is stored */
			rc = 0;
		else if (!rc)
			atomic_fetch_add(&fs->store_bytes, n);
		stored = 1;
		i += k;
	}
	/* The kernel may hold pages of it now: never stored again until invalidated. */
	atomic_store(&fs->kstate[c], K_SEEN);
	if (rc < 0)
		return err_errno(e, -rc, "fuse: notify_store in chunk %llu", (unsigned long long)c);
	atomic_fetch_add(&fs->stores, (uint64_t)stored);
	return stored;
}

/* Store whole chunks [off, off + len) into the page cache. */
int fusefs_store(struct fusefs *fs, uint64_t off, size_t len, const void *data, uint64_t gen, struct err *e)
{
	int stored = 0;
	for (uint64_t at = off; at < off + len;) {
		uint64_t c = at / fs->o.chunk;
		uint64_t end = (c + 1) * fs->o.chunk;
		if (end > off + len)
			end = off + len;
		int rc = store_chunk(fs, c, (unsigned char *)data + (at - off), (size_t)(end - at), gen, e);
		if (rc < 0)
			return -1;
		stored |= rc;
		at = end;
	}
	return stored;
}

/* Drop a range from the page cache and make its whole chunks storable again. */
int fusefs_invalidate(struct fusefs *fs, uint64_t off, uint64_t len, struct err *e)
{
	if (!len || off >= fs->o.size)
		return 0;
	if (len > fs->o.size - off)
		len = fs->o.size - off;
	/* Stores of bytes read before now are dropped; a run under way in the range ends first. */
	uint32_t g = (uint32_t)atomic_fetch_add(&fs->gen, 1) + 1;
	pthread_mutex_lock(&fs->store_mu);
	while (fs->run_len && off < fs->run_off + fs->run_len && off + len > fs->run_off)
		pthread_cond_wait(&fs->store_cond, &fs->store_mu);
	pthread_mutex_unlock(&fs->store_mu);
	int rc = fuse_lowlevel_notify_inval_inode(fs->se, INO_FILE, (off_t)off, (off_t)len);
	if (rc < 0 && rc != -ENOENT)
		return err_errno(e, -rc, "fuse: notify_inval_inode [%llu, +%llu)", (unsigned long long)off,
				 (unsigned long long)len);
	/* The kernel has dropped the pages: claims made before g lapse, whole
	 * chunks become storable (a partly covered one stays as it is). */
	uint64_t c0 = (off + fs->o.chunk - 1) / fs->o.chunk, c1 = (off + len) / fs->o.chunk;
	if (off + len >= fs->o.size)
		c1 = fs->nchunks;
	for (uint64_t c = c0; c < c1; c++) {
		atomic_store(&fs->inval_gen[c], g);
		atomic_store(&fs->kstate[c], K_NONE);
	}
	atomic_fetch_add(&fs->invalidations, 1);
	return 0;
}
