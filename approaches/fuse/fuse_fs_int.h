/*
 * fuse_fs_int.h - the daemon's state, shared by its two files: fuse_fs.c
 * (requests, mount, unmount) and fuse_store.c (what the kernel holds: the
 * store protocol and invalidation). Not for the rest of the approach.
 */
#ifndef MEMSYNC_FUSE_FS_INT_H
#define MEMSYNC_FUSE_FS_INT_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "fuse_fs.h"

#define INO_ROOT 1
#define INO_FILE 2
#define FUSEFS_PAGE 4096u

/* Kernel-side state of one chunk: no page of it came from a READ or a
 * store (none), a store is going through it (storing), or the kernel may
 * hold pages of it (seen: never stored again until invalidated). */
enum { K_NONE, K_STORING, K_SEEN };

struct fusefs {
	struct fusefs_opts o;
	char mnt[PATH_MAX], path[PATH_MAX + 16], fsname[48];
	struct fuse_session *se;
	pthread_t loop;
	int loop_started, mounted;
	atomic_int loop_done;
	uint64_t nchunks;
	_Atomic uint8_t *kstate;     /* per chunk */
	_Atomic uint32_t *claim;     /* per page: 1 + the generation when a READ or WRITE last
	                              * covered it; claimed (no store) while above inval_gen */
	_Atomic uint32_t *inval_gen; /* per chunk: the generation of its last invalidation */
	pthread_mutex_t store_mu;    /* the run below */
	pthread_cond_t store_cond;   /* a run ended */
	/* The run being stored: file bytes [run_off, run_off + run_len) from
	 * the caller's buffer run_buf; run_len 0 = none. */
	uint64_t run_off, run_len;
	unsigned char *run_buf;
	int run_poisoned;            /* a READ made part of run_buf inaccessible */
	atomic_ullong gen;           /* invalidations so far: a store of older bytes is dropped */
	pthread_key_t scratch;       /* per worker: a buffer for WRITE data held in a pipe */
	int scratch_made;
	unsigned dev_major, dev_minor;
	atomic_ullong reads, read_bytes, writes, write_bytes, fsyncs, errors;
	atomic_ullong stores, store_bytes, store_skips, store_fences, invalidations;
};

/* fuse_store.c: a READ (is_read) or WRITE for [off, off + len) arrived:
 * its pages are the kernel's; once this returns no store can write them. */
void fusefs_claim(struct fusefs *fs, uint64_t off, uint64_t len, int is_read);

#endif
