/* content.c - deterministic block content from (seed, block, version). */
#include "content.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

/* splitmix64 finalizer: a cheap, well-mixed 64-bit hash. */
static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* One block: a splitmix64 stream keyed by (seed, block, version). */
void content_fill_block(uint64_t seed, uint64_t block, uint32_t version, void *buf)
{
	uint64_t key = mix64(seed ^ mix64(block * 0x9e3779b97f4a7c15ull + version + 1));
	uint64_t *w = buf;
	for (unsigned i = 0; i < CONTENT_BLOCK / 8; i++)
		w[i] = mix64(key + (uint64_t)i * 0x9e3779b97f4a7c15ull);
}

/* Version of the block that holds off. */
uint32_t content_version(const struct content_model *m, uint64_t off)
{
	return m->versions ? m->versions[off / CONTENT_BLOCK] : 0;
}

/* Fill any byte range, going block by block. */
void content_fill(const struct content_model *m, void *buf, uint64_t off, size_t len)
{
	unsigned char *out = buf;
	uint64_t block_buf[CONTENT_BLOCK / 8];
	while (len) {
		uint64_t block = off / CONTENT_BLOCK, in = off % CONTENT_BLOCK;
		size_t n = CONTENT_BLOCK - in;
		if (n > len)
			n = len;
		if (in == 0 && n == CONTENT_BLOCK) {
			content_fill_block(m->seed, block, content_version(m, off), out);
		} else {
			content_fill_block(m->seed, block, content_version(m, off), block_buf);
			memcpy(out, (unsigned char *)block_buf + in, n);
		}
		out += n;
		off += n;
		len -= n;
	}
}

/* Compare block by block; report the first bad byte. */
int content_check(const struct content_model *m, const void *buf, uint64_t off, size_t len,
		  uint64_t *bad_off)
{
	const unsigned char *p = buf;
	uint64_t block_buf[CONTENT_BLOCK / 8];
	while (len) {
		uint64_t block = off / CONTENT_BLOCK, in = off % CONTENT_BLOCK;
		size_t n = CONTENT_BLOCK - in;
		if (n > len)
			n = len;
		content_fill_block(m->seed, block, content_version(m, off), block_buf);
		const unsigned char *want = (const unsigned char *)block_buf + in;
		if (memcmp(p, want, n)) {
			size_t i = 0;
			while (p[i] == want[i])
				i++;
			if (bad_off)
				*bad_off = off + i;
			return -1;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Write the whole model into a file, piece by piece. */
int content_write_fd(const struct content_model *m, int fd,
		     void (*edit)(void *buf, uint64_t off, size_t len, void *arg), void *arg,
		     struct err *e)
{
	const size_t step = 4u << 20;
	char *buf = malloc(step);
	if (!buf)
		return err_set(e, "out of memory");
	int rc = 0;
	for (uint64_t off = 0; !rc && off < m->size; off += step) {
		size_t n = m->size - off < step ? m->size - off : step;
		content_fill(m, buf, off, n);
		if (edit)
			edit(buf, off, n, arg);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
			rc = err_errno(e, errno ? errno : EIO, "cannot write the region file at offset %llu",
				       (unsigned long long)off);
	}
	free(buf);
	return rc;
}
