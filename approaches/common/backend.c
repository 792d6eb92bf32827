/* backend.c - memory, file and directory backends (see backend.h). */
#include "backend.h"
#include "backend_net.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "units.h"

static const unsigned char zero_block[65536];

/* ---- helpers on file descriptors ---- */

/* pread all of len; bytes past EOF read as zeros. */
static int fd_read_full(int fd, void *buf, size_t len, uint64_t off, struct err *e)
{
	unsigned char *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(e, errno, "pread at %" PRIu64, off);
		}
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* pwrite all of len. */
static int fd_write_full(int fd, const void *buf, size_t len, uint64_t off, struct err *e)
{
	const unsigned char *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(e, errno, "pwrite at %" PRIu64, off);
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Zero a file range: punch a hole, else zero-range, else write zeros. */
static int fd_zero_range(int fd, size_t len, uint64_t off, struct err *e)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	while (len) {
		size_t n = len < sizeof zero_block ? len : sizeof zero_block;
		if (fd_write_full(fd, zero_block, n, off, e))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

/* ---- memory ---- */

/* Copy out of the region. */
static int mem_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	(void)e;
	memcpy(buf, (unsigned char *)b->base + off, len);
	return 0;
}

/* Copy into the region. */
static int mem_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	(void)e;
	memcpy((unsigned char *)b->base + off, buf, len);
	return 0;
}

/* Nothing to make durable. */
static int mem_flush(struct backend *b, struct err *e)
{
	(void)b;
	(void)e;
	return 0;
}

/* Zero a range; whole pages are given back to the kernel. */
static int mem_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	(void)e;
	unsigned char *base = b->base;
	uint64_t page = 4096, start = (off + page - 1) & ~(page - 1), end = (off + len) & ~(page - 1);
	if (end > start && end - start >= 1024 * 1024) {
		memset(base + off, 0, start - off);
		if (madvise(base + start, end - start, MADV_DONTNEED))
			memset(base + start, 0, end - start);
		memset(base + end, 0, off + len - end);
	} else {
		memset(base + off, 0, len);
	}
	return 0;
}

/* Unmap the region. */
static void mem_close(struct backend *b)
{
	munmap(b->base, b->size ? b->size : 1);
	free(b);
}

static const struct backend_ops memory_ops = {
	.kind = "memory", .read = mem_read, .write = mem_write, .flush = mem_flush,
	.trim = mem_zero, .zero = mem_zero, .close = mem_close,
};

/* An anonymous private mapping of size bytes, zero-filled. */
struct backend *backend_memory_new(uint64_t size, struct err *e)
{
	if (size == 0 || size > (uint64_t)SIZE_MAX / 2)
		return err_set(e, "memory backend: bad size %" PRIu64, size), NULL;
	struct backend *b = calloc(1, sizeof *b);
	if (!b)
		return err_errno(e, errno, "memory backend"), NULL;
	b->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b->base == MAP_FAILED) {
		err_errno(e, errno, "memory backend: mmap %" PRIu64 " bytes", size);
		free(b);
		return NULL;
	}
	b->ops = &memory_ops;
	b->size = size;
	snprintf(b->spec, sizeof b->spec, "memory:%" PRIu64, size);
	return b;
}

/* ---- file ---- */

struct file_backend {
	struct backend b;
	int fd;
};

/* pread from the file. */
static int file_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	return fd_read_full(((struct file_backend *)b)->fd, buf, len, off, e);
}

/* pwrite to the file. */
static int file_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	return fd_write_full(((struct file_backend *)b)->fd, buf, len, off, e);
}

/* fdatasync the file. */
static int file_flush(struct backend *b, struct err *e)
{
	if (fdatasync(((struct file_backend *)b)->fd))
		return err_errno(e, errno, "fdatasync %s", b->spec);
	return 0;
}

/* Punch or zero a range of the file. */
static int file_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	return fd_zero_range(((struct file_backend *)b)->fd, len, off, e);
}

/* Close the file. */
static void file_close(struct backend *b)
{
	close(((struct file_backend *)b)->fd);
	free(b);
}

static const struct backend_ops file_ops = {
	.kind = "file", .read = file_read, .write = file_write, .flush = file_flush,
	.trim = file_zero, .zero = file_zero, .close = file_close,
};

/* Open (or create) a file; grow it to size if given, else use its size. */
struct backend *backend_file_new(const char *path, uint64_t size, struct err *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_errno(e, errno, "file backend: open %s", path), NULL;
	struct stat st;
	if (fstat(fd, &st)) {
		err_errno(e, errno, "file backend: stat %s", path);
		goto fail;
	}
	if (size == 0)
		size = (uint64_t)st.st_size;
	if (size == 0) {
		err_set(e, "file backend: %s is empty and no size was given", path);
		goto fail;
	}
	if ((uint64_t)st.st_size < size && ftruncate(fd, (off_t)size)) {
		err_errno(e, errno, "file backend: grow %s to %" PRIu64, path, size);
		goto fail;
	}
	struct file_backend *f = calloc(1, sizeof *f);
	if (!f) {
		err_errno(e, errno, "file backend");
		goto fail;
	}
	f->fd = fd;
	f->b.ops = &file_ops;
	f->b.size = size;
	snprintf(f->b.spec, sizeof f->b.spec, "file:%s:%" PRIu64, path, size);
	return &f->b;
fail:
	close(fd);
	return NULL;
}

/* ---- directory: one file per chunk ---- */

struct dir_backend {
	struct backend b;
	int dirfd;
	uint64_t chunk;
	uint64_t nchunks;
	_Atomic int *fds;      /* cached fd per chunk, -1 = not open */
	atomic_int open_fds;   /* how many are cached */
	int max_open;          /* cache at most this many; beyond, open per call */
};

/* Get an fd for chunk idx. *tmp is set when the caller must close it.
 * Returns -1 with errno ENOENT if the chunk has no file and !create. */
static int dir_chunk_fd(struct dir_backend *d, uint64_t idx, int create, int *tmp)
{
	*tmp = 0;
	int fd = atomic_load(&d->fds[idx]);
	if (fd >= 0)
		return fd;
	char name[32];
	snprintf(name, sizeof name, "%016" PRIx64, idx);
	fd = openat(d->dirfd, name, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
	if (fd < 0)
		return -1;
	if (atomic_fetch_add(&d->open_fds, 1) >= d->max_open) {
		atomic_fetch_sub(&d->open_fds, 1);
		*tmp = 1;
		return fd;
	}
	int expected = -1;
	if (!atomic_compare_exchange_strong(&d->fds[idx], &expected, fd)) {
		atomic_fetch_sub(&d->open_fds, 1);
		close(fd);
		return expected;
	}
	return fd;
}

/* What one per-chunk piece of a dir operation does. */
enum dir_op { DIR_READ, DIR_WRITE, DIR_ZERO };

/* Apply op to [off, off+len) chunk by chunk. */
static int dir_apply(struct dir_backend *d, enum dir_op op, void *buf, size_t len, uint64_t off,
		     struct err *e)
{
	unsigned char *p = buf;
	while (len) {
		uint64_t idx = off / d->chunk, in = off % d->chunk;
		size_t n = (size_t)(d->chunk - in) < len ? (size_t)(d->chunk - in) : len;
		int tmp, rc = 0;
		int fd = dir_chunk_fd(d, idx, op == DIR_WRITE, &tmp);
		if (fd < 0) {
			if (errno != ENOENT)
				return err_errno(e, errno, "dir backend: open chunk %" PRIu64, idx);
			if (op == DIR_READ)
				memset(p, 0, n); /* never written: zeros */
		} else if (op == DIR_READ) {
			rc = fd_read_full(fd, p, n, in, e);
		} else if (op == DIR_WRITE) {
			rc = fd_write_full(fd, p, n, in, e);
		} else {
			rc = fd_zero_range(fd, n, in, e);
		}
		if (fd >= 0 && tmp)
			close(fd);
		if (rc)
			return -1;
		if (p)
			p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Read across chunk files. */
static int dir_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	return dir_apply((struct dir_backend *)b, DIR_READ, buf, len, off, e);
}

/* Write across chunk files, creating them on first write. */
static int dir_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	return dir_apply((struct dir_backend *)b, DIR_WRITE, (void *)buf, len, off, e);
}

/* Zero a range in the chunk files that exist. */
static int dir_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	return dir_apply((struct dir_backend *)b, DIR_ZERO, NULL, len, off, e);
}

/* syncfs covers chunk files whose fd was not cached. */
static int dir_flush(struct backend *b, struct err *e)
{
	if (syncfs(((struct dir_backend *)b)->dirfd))
		return err_errno(e, errno, "syncfs %s", b->spec);
	return 0;
}

/* Close every cached fd and the directory. */
static void dir_close(struct backend *b)
{
	struct dir_backend *d = (struct dir_backend *)b;
	for (uint64_t i = 0; i < d->nchunks; i++)
		if (d->fds[i] >= 0)
			close(d->fds[i]);
	close(d->dirfd);
	free(d->fds);
	free(d);
}

static const struct backend_ops dir_ops = {
	.kind = "dir", .read = dir_read, .write = dir_write, .flush = dir_flush,
	.trim = dir_zero, .zero = dir_zero, .close = dir_close,
};

/* Open (creating if needed) a chunk directory. */
struct backend *backend_dir_new(const char *path, uint64_t size, uint64_t chunk, struct err *e)
{
	if (size == 0 || chunk == 0)
		return err_set(e, "dir backend: size and chunk must be > 0"), NULL;
	if (mkdir(path, 0755) && errno != EEXIST)
		return err_errno(e, errno, "dir backend: mkdir %s", path), NULL;
	struct dir_backend *d = calloc(1, sizeof *d);
	if (!d)
		return err_errno(e, errno, "dir backend"), NULL;
	d->nchunks = (size + chunk - 1) / chunk;
	if (d->nchunks > (1u << 26)) {
		free(d);
		return err_set(e, "dir backend: %" PRIu64 " chunks is too many; use a bigger chunk", (size + chunk - 1) / chunk), NULL;
	}
	d->fds = malloc(d->nchunks * sizeof *d->fds);
	d->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!d->fds || d->dirfd < 0) {
		err_errno(e, errno, "dir backend: open %s", path);
		if (d->dirfd >= 0)
			close(d->dirfd);
		free(d->fds);
		free(d);
		return NULL;
	}
	for (uint64_t i = 0; i < d->nchunks; i++)
		atomic_init(&d->fds[i], -1);
	struct rlimit rl;
	d->max_open = 256;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 2 < 256)
		d->max_open = (int)(rl.rlim_cur / 2);
	d->chunk = chunk;
	d->b.ops = &dir_ops;
	d->b.size = size;
	snprintf(d->b.spec, sizeof d->b.spec, "dir:%s:%" PRIu64 ":chunk=%" PRIu64, path, size, chunk);
	return &d->b;
}

/* ---- spec parsing and checked entry points ---- */

/* Parse "memory:64M", "file:/p[:size]", "dir:/p:size[:chunk=1M]". */
struct backend *backend_open(const char *spec, struct err *e)
{
	char buf[256];
	if (!spec || strlen(spec) >= sizeof buf)
		return err_set(e, "backend spec missing or too long"), NULL;
	strcpy(buf, spec);
	char *kind = buf, *rest = strchr(buf, ':');
	if (!rest)
		return err_set(e, "bad backend spec '%s': expected memory:SIZE, file:PATH[:SIZE], dir:PATH:SIZE[:chunk=N] or remote:URI", spec), NULL;
	*rest++ = '\0';
	uint64_t size = 0, chunk = 1024 * 1024;
	if (!strcmp(kind, "memory")) {
		if (parse_size(rest, &size, e))
			return NULL;
		return backend_memory_new(size, e);
	}
	if (!strcmp(kind, "redis") || !strcmp(kind, "redis+unix")) /* backend_net.h */
		return backend_redis_open(spec, e);
	if (!strcmp(kind, "http") || !strcmp(kind, "https"))
		return backend_http_open(spec, e);
	if (!strcmp(kind, "remote")) /* the rest is a URI, colons and all */
		return backend_remote_open(spec + 7, e);
	char *path = rest, *opt = strchr(rest, ':');
	if (opt)
		*opt++ = '\0';
	if (!*path)
		return err_set(e, "bad backend spec '%s': empty path", spec), NULL;
	if (!strcmp(kind, "file")) {
		if (opt && parse_size(opt, &size, e))
			return NULL;
		return backend_file_new(path, size, e);
	}
	if (!strcmp(kind, "dir")) {
		if (!opt)
			return err_set(e, "bad backend spec '%s': dir needs a size", spec), NULL;
		char *copt = strchr(opt, ':');
		if (copt)
			*copt++ = '\0';
		if (parse_size(opt, &size, e))
			return NULL;
		if (copt) {
			if (strncmp(copt, "chunk=", 6))
				return err_set(e, "bad backend spec '%s': expected chunk=SIZE", spec), NULL;
			if (parse_size(copt + 6, &chunk, e))
				return NULL;
		}
		return backend_dir_new(path, size, chunk, e);
	}
	return err_set(e, "unknown backend kind '%s' (memory, file, dir, remote, redis, redis+unix, http)", kind), NULL;
}

/* Refuse ranges outside the backend: a last line of defence. */
static int check_range(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	if (off > b->size || len > b->size - off)
		return err_errno(e, EINVAL, "%s: range %" PRIu64 "+%zu outside %" PRIu64, b->spec, off, len, b->size);
	return 0;
}

/* Checked read. */
int backend_read(struct backend *b, void *buf, size_t len, uint64_t off, struct err *e)
{
	return check_range(b, len, off, e) ? -1 : b->ops->read(b, buf, len, off, e);
}

/* Checked write. */
int backend_write(struct backend *b, const void *buf, size_t len, uint64_t off, struct err *e)
{
	return check_range(b, len, off, e) ? -1 : b->ops->write(b, buf, len, off, e);
}

/* Flush. */
int backend_flush(struct backend *b, struct err *e)
{
	return b->ops->flush(b, e);
}

/* Checked trim. */
int backend_trim(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	return check_range(b, len, off, e) ? -1 : b->ops->trim(b, len, off, e);
}

/* Checked zero. */
int backend_zero(struct backend *b, size_t len, uint64_t off, struct err *e)
{
	return check_range(b, len, off, e) ? -1 : b->ops->zero(b, len, off, e);
}

/* Size in bytes. */
uint64_t backend_size(const struct backend *b)
{
	return b->size;
}

/* Base pointer (memory kind only). */
void *backend_base(const struct backend *b)
{
	return b->base;
}

/* Close any kind. */
void backend_close(struct backend *b)
{
	if (b)
		b->ops->close(b);
}
