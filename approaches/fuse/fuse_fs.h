/*
 * fuse_fs.h - one file served by a libfuse3 low-level, multi-threaded daemon.
 *
 * fusefs_mount() mounts a FUSE file system with a single regular file
 * ("region", inode 2) of a fixed size at an existing directory, and serves
 * it from threads of the calling process (fuse_session_loop_mt). Where the
 * bytes come from is the caller's (struct fusefs_io): the remote directly,
 * or the managed engine. The kernel side is tuned for large requests:
 * max_read/max_write and max_pages up to 1 MiB, splice, writeback cache,
 * max_background, and the mount's bdi read_ahead_kb.
 *
 * Prefetch into the kernel's page cache: fusefs_store() pushes bytes with
 * FUSE_NOTIFY_STORE (fuse_lowlevel_notify_store). The kernel overwrites
 * whatever page it holds there, so a store must never land on a page the
 * workload may have dirtied: fuse_store.c has the protocol (READs claim
 * their pages and fence a racing store off them). fusefs_invalidate() drops a range from the
 * page cache (fuse_lowlevel_notify_inval_inode; dirty pages are written
 * back first) and makes its chunks storable again.
 *
 * Mounts are named "memsync-ms<pid>" (fsname, type fuse.memsync) after the
 * process serving them, so fusefs_cleanup_stale() can recognize and lazily
 * unmount the mounts of dead processes.
 */
#ifndef MEMSYNC_FUSE_FS_H
#define MEMSYNC_FUSE_FS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

#define FUSEFS_FILE "region"
#define FUSEFS_MAX_IO (1u << 20) /* the kernel's largest request (256 pages) */

/* Splice: none, READ replies and stores (vmsplice + splice), or also
 * requests (WRITE data stays in a pipe until copied). */
enum { FUSEFS_SPLICE_OFF, FUSEFS_SPLICE_REPLY, FUSEFS_SPLICE_ALL };

/* Where the file's bytes live; every call may come from many threads. */
struct fusefs_io {
	/* The bytes of [off, off + len) (len <= FUSEFS_MAX_IO) in a buffer of
	 * the calling thread, valid until its next call; NULL on error. */
	const void *(*read)(void *arg, size_t len, uint64_t off, struct err *e);
	/* Write [off, off + len); data is only valid during the call. */
	int (*write)(void *arg, const void *data, size_t len, uint64_t off, struct err *e);
	/* Make every write that was answered durable (FSYNC). */
	int (*fsync)(void *arg, struct err *e);
	/* A request failed for good (the workload gets EIO); may be NULL. */
	void (*failed)(void *arg, const char *msg);
	void *arg;
};

struct fusefs_opts {
	const char *mountpoint;  /* an existing directory */
	uint64_t size;           /* bytes, multiple of 4096 */
	uint64_t chunk;          /* granularity of the store protocol (power of two >= 4096) */
	uint64_t max_io;         /* max_read/max_write (and so max_pages): 4096..FUSEFS_MAX_IO */
	int threads;             /* most worker threads */
	int clone_fd;            /* one /dev/fuse descriptor per worker */
	int max_background;      /* kernel's background (readahead, writeback) requests */
	uint64_t readahead;      /* bdi read_ahead_kb * 1024; 0 keeps the kernel's */
	int splice;              /* FUSEFS_SPLICE_*: where libfuse may splice */
	int writeback;           /* writeback cache (else write-through) */
	struct fusefs_io io;
};

struct fusefs_stats {
	uint64_t reads, read_bytes, writes, write_bytes, fsyncs, errors;
	uint64_t stores, store_bytes, store_skips, store_fences, invalidations;
};

struct fusefs;

/* The CLOCK_REALTIME time ns from now, for pthread_cond_timedwait(). */
static inline struct timespec fusefs_deadline(uint64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ns += (uint64_t)ts.tv_nsec;
	ts.tv_sec += (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	return ts;
}

/* Mount and start serving; returns once the kernel finished INIT and has
 * looked the file up (so stores find its inode).
 *
 * The serving process must never hold the file open (nor map it): a
 * process that dies flushes its open files (FLUSH, writeback) before its
 * /dev/fuse descriptors are released, so it would wait forever for itself.
 * The file is synced by whoever wrote it (the workload's msync sends the
 * dirty pages and FSYNC). */
struct fusefs *fusefs_mount(const struct fusefs_opts *o, struct err *e);
/* Path of the file (mountpoint/region). */
const char *fusefs_path(const struct fusefs *fs);
/* The invalidation generation: take it before reading the bytes to store. */
uint64_t fusefs_generation(struct fusefs *fs);
/* Store [off, off + len) (chunk-aligned, whole chunks) into the page cache:
 * the pages no READ or WRITE has brought, of chunks not stored before,
 * unless an invalidation came after generation gen (the bytes may be
 * older). data must be page-aligned memory of the caller's own mapping
 * (mmap): a READ racing the store makes part of it inaccessible for the
 * store's duration (fuse_store.c). One caller thread at a time. Returns 1
 * when something was stored, 0 when nothing, -1 on error. */
int fusefs_store(struct fusefs *fs, uint64_t off, size_t len, const void *data, uint64_t gen, struct err *e);
/* Has the kernel seen (read or written) any chunk of [off, off + len)? */
int fusefs_seen(struct fusefs *fs, uint64_t off, uint64_t len);
/* Drop [off, off + len) from the page cache (dirty pages are written back
 * first) and make its chunks storable again; a store under way in it ends
 * first, one of bytes read before this call is dropped. Not from a request
 * handler. */
int fusefs_invalidate(struct fusefs *fs, uint64_t off, uint64_t len, struct err *e);
/* Counters. */
void fusefs_stats(struct fusefs *fs, struct fusefs_stats *s);
/* Close the file, unmount (lazily), stop the threads and free. */
void fusefs_unmount(struct fusefs *fs);

/* Lazily unmount every memsync FUSE mount whose serving process is dead;
 * one log line per mount. Returns how many. */
int fusefs_cleanup_stale(void);

#endif
