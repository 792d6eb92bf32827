/*
 * content.h - the content model.
 *
 * Every 4 KiB block of a region holds bytes that are a deterministic
 * function of (seed, block number, version). Version 0 is the initial
 * content the remote side starts with; each write by the workload bumps the
 * block's version. Any copy of the region (the workload's view, the remote
 * server's memory, a destination file) can then be checked byte for byte
 * without keeping a second copy.
 */
#ifndef MEMSYNC_CONTENT_H
#define MEMSYNC_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#define CONTENT_BLOCK 4096u

struct content_model {
	uint64_t seed;
	uint64_t size;            /* region size in bytes, multiple of CONTENT_BLOCK */
	const uint32_t *versions; /* size / CONTENT_BLOCK entries; NULL = all version 0 */
};

/* Fill one whole block with its content for the given version. */
void content_fill_block(uint64_t seed, uint64_t block, uint32_t version, void *buf);

/* Fill buf with the model's content of [off, off + len) (any alignment). */
void content_fill(const struct content_model *m, void *buf, uint64_t off, size_t len);

/* Compare buf with the model's content of [off, off + len). Returns 0 when
 * equal, else -1 and the first differing byte offset in *bad_off. */
int content_check(const struct content_model *m, const void *buf, uint64_t off, size_t len,
		  uint64_t *bad_off);

struct err;
/* Write the model's content of [0, m->size) to the file fd in 4 MiB pieces.
 * With edit (may be NULL), edit(buf, off, len, arg) may change each piece
 * before it is written (e.g. to make some blocks stale). */
int content_write_fd(const struct content_model *m, int fd,
		     void (*edit)(void *buf, uint64_t off, size_t len, void *arg), void *arg,
		     struct err *e);

/* Version of the block holding byte offset off. */
uint32_t content_version(const struct content_model *m, uint64_t off);

#endif
