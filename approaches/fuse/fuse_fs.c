/*
 * fuse_fs.c - the FUSE daemon of the fuse approach: one file, low-level
 * libfuse3 API, many threads (see fuse_fs.h).
 */
#define FUSE_USE_VERSION 312
#include "fuse_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define INO_ROOT 1
#define INO_FILE 2
#define ATTR_TIMEOUT 86400.0

/* Kernel-side state of one chunk (the store protocol, fuse_fs.h). */
enum { K_NONE, K_STORING, K_SEEN };

struct fusefs {
	struct fusefs_opts o;
	char mnt[PATH_MAX], path[PATH_MAX + 16], fsname[48];
	struct fuse_session *se;
	pthread_t loop;
	int loop_started, mounted;
	atomic_int loop_done;
	uint64_t nchunks;
	_Atomic uint8_t *kstate;
	pthread_mutex_t store_mu;
	pthread_cond_t store_cond;
	int64_t storing;           /* chunk being stored, or -1 */
	atomic_ullong gen;         /* invalidations so far: a store of older bytes is dropped */
	pthread_key_t scratch;     /* per worker: a buffer for WRITE data held in a pipe */
	int scratch_made;
	unsigned dev_major, dev_minor;
	atomic_ullong reads, read_bytes, writes, write_bytes, fsyncs, errors;
	atomic_ullong stores, store_bytes, store_skips, store_waits, invalidations;
};

/* ---- chunk states ---------------------------------------------------- */

/* Wait (bounded) until chunk c is no longer being stored. */
static void wait_store(struct fusefs *fs, uint64_t c)
{
	struct timespec ts = fusefs_deadline(fs->o.store_wait_ns);
	pthread_mutex_lock(&fs->store_mu);
	while (fs->storing == (int64_t)c)
		if (pthread_cond_timedwait(&fs->store_cond, &fs->store_mu, &ts))
			break;
	pthread_mutex_unlock(&fs->store_mu);
	atomic_fetch_add(&fs->store_waits, 1);
}

/* A READ or WRITE reached [off, off + len): its chunks are the kernel's now. */
static void mark_seen(struct fusefs *fs, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	for (uint64_t c = off / fs->o.chunk; c <= (off + len - 1) / fs->o.chunk && c < fs->nchunks; c++) {
		if (atomic_load_explicit(&fs->kstate[c], memory_order_relaxed) == K_SEEN)
			continue;
		if (atomic_exchange(&fs->kstate[c], K_SEEN) == K_STORING)
			wait_store(fs, c);
	}
}

/* Has the kernel seen any chunk of [off, off + len)? */
int fusefs_seen(struct fusefs *fs, uint64_t off, uint64_t len)
{
	for (uint64_t c = off / fs->o.chunk; len && c <= (off + len - 1) / fs->o.chunk && c < fs->nchunks; c++)
		if (atomic_load(&fs->kstate[c]) != K_NONE)
			return 1;
	return 0;
}

/* The invalidation generation: read it before fetching the bytes to store. */
uint64_t fusefs_generation(struct fusefs *fs)
{
	return atomic_load(&fs->gen);
}

/* Store one chunk unless the kernel has seen it or it was invalidated
 * since the bytes were read (generation gen). */
static int store_chunk(struct fusefs *fs, uint64_t c, const void *data, size_t len, uint64_t gen, struct err *e)
{
	uint8_t none = K_NONE;
	if (!atomic_compare_exchange_strong(&fs->kstate[c], &none, K_STORING)) {
		atomic_fetch_add(&fs->store_skips, 1);
		return 0;
	}
	pthread_mutex_lock(&fs->store_mu);
	if (gen != atomic_load(&fs->gen)) { /* the bytes may be older than an invalidation */
		atomic_store(&fs->kstate[c], K_NONE);
		pthread_mutex_unlock(&fs->store_mu);
		atomic_fetch_add(&fs->store_skips, 1);
		return 0;
	}
	fs->storing = (int64_t)c; /* from here an invalidation waits for this store */
	pthread_mutex_unlock(&fs->store_mu);
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(len);
	bv.buf[0].mem = (void *)data;
	int rc = fuse_lowlevel_notify_store(fs->se, INO_FILE, c * fs->o.chunk, &bv,
					    fs->o.splice != FUSEFS_SPLICE_OFF ? FUSE_BUF_SPLICE_MOVE : FUSE_BUF_NO_SPLICE);
	/* Stored or not, the kernel may hold pages of it now: never again. */
	atomic_store(&fs->kstate[c], K_SEEN);
	pthread_mutex_lock(&fs->store_mu);
	fs->storing = -1;
	pthread_cond_broadcast(&fs->store_cond);
	pthread_mutex_unlock(&fs->store_mu);
	if (rc < 0)
		return err_errno(e, -rc, "fuse: notify_store of chunk %llu", (unsigned long long)c);
	atomic_fetch_add(&fs->stores, 1);
	atomic_fetch_add(&fs->store_bytes, len);
	return 1;
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
		int rc = store_chunk(fs, c, (const char *)data + (at - off), (size_t)(end - at), gen, e);
		if (rc < 0)
			return -1;
		stored |= rc;
		at = end;
	}
	return stored;
}

/* Drop a range from the page cache and make its chunks storable again. */
int fusefs_invalidate(struct fusefs *fs, uint64_t off, uint64_t len, struct err *e)
{
	if (!len || off >= fs->o.size)
		return 0;
	/* Stores of bytes read before now are dropped; one under way ends first. */
	atomic_fetch_add(&fs->gen, 1);
	int64_t lo = (int64_t)(off / fs->o.chunk), hi = (int64_t)((off + len - 1) / fs->o.chunk);
	pthread_mutex_lock(&fs->store_mu);
	while (fs->storing >= lo && fs->storing <= hi)
		pthread_cond_wait(&fs->store_cond, &fs->store_mu);
	pthread_mutex_unlock(&fs->store_mu);
	int rc = fuse_lowlevel_notify_inval_inode(fs->se, INO_FILE, (off_t)off, (off_t)len);
	if (rc < 0 && rc != -ENOENT)
		return err_errno(e, -rc, "fuse: notify_inval_inode [%llu, +%llu)", (unsigned long long)off,
				 (unsigned long long)len);
	/* Only whole chunks become storable: a partly covered one stays seen. */
	uint64_t c0 = (off + fs->o.chunk - 1) / fs->o.chunk, c1 = (off + len) / fs->o.chunk;
	if (off + len >= fs->o.size)
		c1 = fs->nchunks;
	for (uint64_t c = c0; c < c1; c++)
		atomic_store(&fs->kstate[c], K_NONE);
	atomic_fetch_add(&fs->invalidations, 1);
	return 0;
}

/* ---- requests ---------------------------------------------------------- */

/* Attributes of the root directory or the file. */
static void fill_attr(const struct fusefs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	if (ino == INO_ROOT) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = (off_t)fs->o.size;
		st->st_blocks = (blkcnt_t)(fs->o.size / 512);
		st->st_blksize = (blksize_t)fs->o.max_io;
	}
}

/* This worker's buffer of FUSEFS_MAX_IO bytes (NULL when out of memory). */
static void *scratch(struct fusefs *fs)
{
	void *b = pthread_getspecific(fs->scratch);
	if (!b && (b = malloc(FUSEFS_MAX_IO)) && pthread_setspecific(fs->scratch, b)) {
		free(b);
		b = NULL;
	}
	return b;
}

/* A request failed for good: count it, tell the owner, answer EIO. */
static void fail_req(struct fusefs *fs, fuse_req_t req, const char *what, const struct err *e)
{
	char msg[600];
	snprintf(msg, sizeof msg, "fuse: %s failed: %s", what, e->set ? e->msg : "unknown error");
	if (atomic_fetch_add(&fs->errors, 1) == 0)
		log_warn("%s", msg);
	if (fs->o.io.failed)
		fs->o.io.failed(fs->o.io.arg, msg);
	fuse_reply_err(req, EIO);
}

/* INIT: large requests, writeback cache, splice, background requests. */
static void fs_init(void *ud, struct fuse_conn_info *c)
{
	struct fusefs *fs = ud;
	c->max_write = (unsigned)fs->o.max_io;
	c->max_read = (unsigned)fs->o.max_io;
	c->max_readahead = (unsigned)(fs->o.readahead ? fs->o.readahead : fs->o.max_io);
	c->want &= ~FUSE_CAP_AUTO_INVAL_DATA; /* the daemon invalidates explicitly */
	if (fs->o.writeback && (c->capable & FUSE_CAP_WRITEBACK_CACHE))
		c->want |= FUSE_CAP_WRITEBACK_CACHE;
	c->want &= ~(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_SPLICE_READ);
	if (fs->o.splice != FUSEFS_SPLICE_OFF)
		c->want |= (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE) & c->capable;
	if (fs->o.splice == FUSEFS_SPLICE_ALL)
		c->want |= FUSE_CAP_SPLICE_READ & c->capable;
	c->max_background = (unsigned)fs->o.max_background;
	c->congestion_threshold = (unsigned)fs->o.max_background * 3 / 4;
	log_debug("fuse: INIT %u.%u, max_io %u, max_background %u, writeback %s, splice %s", c->proto_major,
		  c->proto_minor, c->max_write, c->max_background, c->want & FUSE_CAP_WRITEBACK_CACHE ? "on" : "off",
		  c->want & FUSE_CAP_SPLICE_READ ? "all" : c->want & FUSE_CAP_SPLICE_WRITE ? "reply" : "off");
}

/* LOOKUP: only "region" in the root. */
static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fusefs *fs = fuse_req_userdata(req);
	if (parent != INO_ROOT || strcmp(name, FUSEFS_FILE)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param ep = {.ino = INO_FILE, .generation = 1, .attr_timeout = ATTR_TIMEOUT,
				      .entry_timeout = ATTR_TIMEOUT};
	fill_attr(fs, INO_FILE, &ep.attr);
	fuse_reply_entry(req, &ep);
}

/* GETATTR. */
static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	fill_attr(fuse_req_userdata(req), ino, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

/* SETATTR: times are accepted and forgotten; the size is fixed. */
static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	(void)fi;
	struct fusefs *fs = fuse_req_userdata(req);
	if ((to_set & FUSE_SET_ATTR_SIZE) && (ino != INO_FILE || (uint64_t)attr->st_size != fs->o.size)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	struct stat st;
	fill_attr(fs, ino, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

/* OPEN: keep the page cache across opens (stored and prefetched pages stay). */
static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != INO_FILE) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (fi->flags & O_TRUNC) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/* READ: from the data path, answered with splice where enabled. */
static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	struct fusefs *fs = fuse_req_userdata(req);
	if (ino != INO_FILE || off < 0) {
		fuse_reply_err(req, ino != INO_FILE ? EISDIR : EINVAL);
		return;
	}
	if ((uint64_t)off >= fs->o.size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > fs->o.size - (uint64_t)off)
		size = (size_t)(fs->o.size - (uint64_t)off);
	if (size > FUSEFS_MAX_IO)
		size = FUSEFS_MAX_IO;
	mark_seen(fs, (uint64_t)off, size);
	struct err e = {0};
	const void *buf = fs->o.io.read(fs->o.io.arg, size, (uint64_t)off, &e);
	if (!buf) {
		fail_req(fs, req, "READ", &e);
		return;
	}
	atomic_fetch_add(&fs->reads, 1);
	atomic_fetch_add(&fs->read_bytes, size);
	if (fs->o.splice == FUSEFS_SPLICE_OFF) {
		fuse_reply_buf(req, buf, size);
		return;
	}
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
	bv.buf[0].mem = (void *)buf;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

/* WRITE (from the page cache's writeback, or write-through): to the data path. */
static void fs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	(void)fi;
	struct fusefs *fs = fuse_req_userdata(req);
	size_t len = fuse_buf_size(in);
	if (ino != INO_FILE || off < 0 || (uint64_t)off > fs->o.size || len > fs->o.size - (uint64_t)off ||
	    len > FUSEFS_MAX_IO) {
		fuse_reply_err(req, ino != INO_FILE ? EISDIR : (off < 0 ? EINVAL : ENOSPC));
		return;
	}
	mark_seen(fs, (uint64_t)off, len);
	struct err e = {0};
	const void *data;
	if (in->count == 1 && in->idx == 0 && in->off == 0 && !(in->buf[0].flags & FUSE_BUF_IS_FD)) {
		data = in->buf[0].mem;
	} else {
		void *buf = scratch(fs);
		if (!buf) {
			err_errno(&e, ENOMEM, "a WRITE buffer");
			fail_req(fs, req, "WRITE", &e);
			return;
		}
		struct fuse_bufvec dst = FUSE_BUFVEC_INIT(len);
		dst.buf[0].mem = buf;
		ssize_t got = fuse_buf_copy(&dst, in, 0);
		if (got != (ssize_t)len) {
			err_errno(&e, got < 0 ? (int)-got : EIO, "copying %zu bytes of WRITE data", len);
			fail_req(fs, req, "WRITE", &e);
			return;
		}
		data = buf;
	}
	if (fs->o.io.write(fs->o.io.arg, data, len, (uint64_t)off, &e)) {
		fail_req(fs, req, "WRITE", &e);
		return;
	}
	atomic_fetch_add(&fs->writes, 1);
	atomic_fetch_add(&fs->write_bytes, len);
	fuse_reply_write(req, len);
}

/* FSYNC: every answered write durable. */
static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino, (void)datasync, (void)fi;
	struct fusefs *fs = fuse_req_userdata(req);
	struct err e = {0};
	atomic_fetch_add(&fs->fsyncs, 1);
	if (fs->o.io.fsync(fs->o.io.arg, &e)) {
		fail_req(fs, req, "FSYNC", &e);
		return;
	}
	fuse_reply_err(req, 0);
}

/* FLUSH (every close) and RELEASE: nothing to do, syncing is FSYNC's. */
static void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

/* READDIR: ".", ".." and the file. */
static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	if (ino != INO_ROOT) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	static const char *const names[] = {".", "..", FUSEFS_FILE};
	static const fuse_ino_t inos[] = {INO_ROOT, INO_ROOT, INO_FILE};
	char buf[512];
	size_t used = 0;
	for (off_t i = off; i < 3; i++) {
		struct stat st = {.st_ino = inos[i], .st_mode = i < 2 ? S_IFDIR : S_IFREG};
		size_t n = fuse_add_direntry(req, buf + used, sizeof buf - used, names[i], &st, i + 1);
		if (n > sizeof buf - used || used + n > size)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.open = fs_open,
	.read = fs_read,
	.write_buf = fs_write_buf,
	.flush = fs_flush,
	.release = fs_flush,
	.fsync = fs_fsync,
	.readdir = fs_readdir,
};

/* ---- mount and unmount --------------------------------------------------- */

/* libfuse's messages go to our log. */
static void fs_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	if (level <= FUSE_LOG_ERR)
		log_warn("libfuse: %s", msg);
	else
		log_debug("libfuse: %s", msg);
}

/* The session loop's thread. */
static void *loop_run(void *arg)
{
	struct fusefs *fs = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* workers inherit: signals stay the process's */
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	if (lc) {
		fuse_loop_cfg_set_clone_fd(lc, (unsigned)fs->o.clone_fd);
		fuse_loop_cfg_set_max_threads(lc, (unsigned)fs->o.threads);
		int rc = fuse_session_loop_mt(fs->se, lc);
		if (rc && !fuse_session_exited(fs->se))
			log_warn("fuse: session loop of %s ended: %s", fs->mnt, strerror(rc < 0 ? -rc : rc));
		fuse_loop_cfg_destroy(lc);
	}
	atomic_store(&fs->loop_done, 1);
	return NULL;
}

/* Raise the mount's readahead window (bdi read_ahead_kb). */
static void set_readahead(struct fusefs *fs)
{
	if (!fs->o.readahead)
		return;
	char p[96], v[32];
	snprintf(p, sizeof p, "/sys/class/bdi/%u:%u/read_ahead_kb", fs->dev_major, fs->dev_minor);
	snprintf(v, sizeof v, "%llu", (unsigned long long)(fs->o.readahead / 1024));
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, v, strlen(v)) < 0)
		log_warn("fuse: cannot set %s to %s: %s (readahead stays the kernel's)", p, v, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Session, mount, loop thread; wait for INIT by looking at the file. */
static int fs_start(struct fusefs *fs, struct err *e)
{
	char opts[256];
	snprintf(opts, sizeof opts, "fsname=%s,subtype=memsync,max_read=%llu", fs->fsname,
		 (unsigned long long)fs->o.max_io);
	char *argv[] = {"memsync-fuse", "-o", opts, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	fuse_set_log_func(fs_log);
	fs->se = fuse_session_new(&args, &fs_ops, sizeof fs_ops, fs);
	fuse_opt_free_args(&args);
	if (!fs->se)
		return err_set(e, "fuse: fuse_session_new failed (see the libfuse message above)");
	if (fuse_session_mount(fs->se, fs->mnt))
		return err_set(e, "fuse: cannot mount at %s (/dev/fuse missing or no permission?)", fs->mnt);
	fs->mounted = 1;
	if (pthread_create(&fs->loop, NULL, loop_run, fs))
		return err_set(e, "fuse: cannot start the session thread");
	fs->loop_started = 1;
	struct stat st;
	if (stat(fs->path, &st)) /* waits for INIT; a dead session fails it */
		return err_errno(e, errno, "fuse: the mounted file %s is not there", fs->path);
	if ((uint64_t)st.st_size != fs->o.size)
		return err_set(e, "fuse: %s has %lld bytes, expected %llu", fs->path, (long long)st.st_size,
			       (unsigned long long)fs->o.size);
	fs->dev_major = major(st.st_dev);
	fs->dev_minor = minor(st.st_dev);
	set_readahead(fs);
	return 0;
}

/* Check the options and fill defaults. */
static int fs_check(struct fusefs_opts *o, struct err *e)
{
	if (!o->size || o->size % 4096)
		return err_set(e, "fuse: size %llu is not a positive multiple of 4096", (unsigned long long)o->size);
	if (o->chunk < 4096 || (o->chunk & (o->chunk - 1)))
		return err_set(e, "fuse: chunk %llu is not a power of two >= 4096", (unsigned long long)o->chunk);
	if (o->max_io < 4096 || o->max_io > FUSEFS_MAX_IO || o->max_io % 4096)
		return err_set(e, "fuse: max_io %llu outside 4k..1m (multiples of 4k)", (unsigned long long)o->max_io);
	if (!o->io.read || !o->io.write || !o->io.fsync)
		return err_set(e, "fuse: incomplete data path");
	if (o->threads < 1)
		o->threads = 1;
	if (o->max_background < 1)
		o->max_background = 12;
	if (!o->store_wait_ns)
		o->store_wait_ns = 2000000;
	return 0;
}

/* Mount and serve. */
struct fusefs *fusefs_mount(const struct fusefs_opts *o, struct err *e)
{
	struct fusefs *fs = calloc(1, sizeof *fs);
	if (!fs)
		return err_errno(e, ENOMEM, "fuse"), NULL;
	fs->o = *o;
	fs->storing = -1;
	pthread_mutex_init(&fs->store_mu, NULL);
	pthread_cond_init(&fs->store_cond, NULL);
	if (fs_check(&fs->o, e)) {
		fusefs_unmount(fs);
		return NULL;
	}
	snprintf(fs->mnt, sizeof fs->mnt, "%s", o->mountpoint);
	snprintf(fs->path, sizeof fs->path, "%s/%s", fs->mnt, FUSEFS_FILE);
	snprintf(fs->fsname, sizeof fs->fsname, "memsync-ms%d", (int)getpid());
	fs->nchunks = (fs->o.size + fs->o.chunk - 1) / fs->o.chunk;
	fs->kstate = calloc(fs->nchunks, 1);
	fs->scratch_made = pthread_key_create(&fs->scratch, free) == 0;
	if (!fs->kstate || !fs->scratch_made) {
		err_errno(e, ENOMEM, "fuse: chunk states");
		fusefs_unmount(fs);
		return NULL;
	}
	if (fs_start(fs, e)) {
		fusefs_unmount(fs);
		return NULL;
	}
	log_debug("fuse: %s mounted on %s (bdi %u:%u)", fs->fsname, fs->mnt, fs->dev_major, fs->dev_minor);
	return fs;
}

const char *fusefs_path(const struct fusefs *fs)
{
	return fs->path;
}

/* Wait up to ms for the loop thread to end. */
static int loop_wait(struct fusefs *fs, int ms)
{
	for (int i = 0; i < ms && !atomic_load(&fs->loop_done); i++)
		usleep(1000);
	return atomic_load(&fs->loop_done) ? 0 : -1;
}

/* Abort the connection through fusectl, where it is mounted. */
static void abort_conn(struct fusefs *fs)
{
	char p[96];
	snprintf(p, sizeof p, "/sys/fs/fuse/connections/%u/abort", fs->dev_minor);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1", 1) < 0)
		log_debug("fuse: %s: %s", p, strerror(errno));
	close(fd);
}

/* Unmount, stop, free. */
void fusefs_unmount(struct fusefs *fs)
{
	if (!fs)
		return;
	int stuck = 0;
	if (fs->se) {
		/* Lazy: gone from the namespace now; once nobody holds the file the
		 * kernel ends the connection, the workers' reads fail with ENODEV
		 * and the loop ends by itself. */
		if (fs->mounted && umount2(fs->mnt, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
			log_warn("fuse: cannot unmount %s: %s", fs->mnt, strerror(errno));
		if (fs->loop_started && loop_wait(fs, 5000)) {
			fuse_session_exit(fs->se);
			abort_conn(fs);
			if (loop_wait(fs, 5000)) {
				log_warn("fuse: %s is still in use; leaving its threads behind", fs->mnt);
				stuck = 1;
			}
		}
		if (fs->loop_started && !stuck)
			pthread_join(fs->loop, NULL);
		if (stuck)
			return; /* the session is still referenced by its threads */
		if (fs->mounted)
			fuse_session_unmount(fs->se); /* closes the device; the mount is gone already */
		fuse_session_destroy(fs->se);
	}
	if (fs->scratch_made)
		pthread_key_delete(fs->scratch); /* the workers freed theirs when they ended */
	pthread_mutex_destroy(&fs->store_mu);
	pthread_cond_destroy(&fs->store_cond);
	free(fs->kstate);
	free(fs);
}

/* Counters. */
void fusefs_stats(struct fusefs *fs, struct fusefs_stats *s)
{
	s->reads = atomic_load(&fs->reads);
	s->read_bytes = atomic_load(&fs->read_bytes);
	s->writes = atomic_load(&fs->writes);
	s->write_bytes = atomic_load(&fs->write_bytes);
	s->fsyncs = atomic_load(&fs->fsyncs);
	s->errors = atomic_load(&fs->errors);
	s->stores = atomic_load(&fs->stores);
	s->store_bytes = atomic_load(&fs->store_bytes);
	s->store_skips = atomic_load(&fs->store_skips);
	s->store_waits = atomic_load(&fs->store_waits);
	s->invalidations = atomic_load(&fs->invalidations);
}
