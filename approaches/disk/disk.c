/*
 * disk.c - the `disk` baseline: a local file, page cache dropped first.
 *
 * open() writes the initial content into a file in the scenario's scratch
 * directory (on disk: /var/tmp by default, never tmpfs if we can help it),
 * fsyncs it and drops its pages from the page cache with
 * posix_fadvise(DONTNEED), so the first reads go to the device. The workload
 * maps the file MAP_SHARED; sync() is msync + fsync by the workload and
 * fdatasync here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "approach.h"
#include "log.h"

#define TMPFS_MAGIC 0x01021994

/* Create the file, write the content, flush and drop it from the page cache. */
static int disk_open(const struct scenario *sc, struct region *r, struct err *e)
{
	snprintf(r->path, sizeof r->path, "%s/disk-region", sc->workdir);
	int fd = open(r->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_errno(e, errno, "cannot create %s", r->path);
	struct statfs sf;
	if (fstatfs(fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC)
		log_warn("disk baseline: %s is on tmpfs, so 'disk' measures memory (use --workdir on a disk)", r->path);
	struct content_model m = {.seed = sc->seed, .size = sc->size, .versions = NULL};
	int rc = content_write_fd(&m, fd, NULL, NULL, e);
	if (!rc && fsync(fd))
		rc = err_errno(e, errno, "fsync %s", r->path);
	if (!rc && (errno = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)))
		rc = err_errno(e, errno, "cannot drop %s from the page cache", r->path);
	close(fd);
	r->kind = REGION_FILE;
	return rc;
}

/* Make the workload's writes durable. */
static int disk_sync(struct region *r, struct err *e)
{
	int fd = open(r->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno, "cannot open %s", r->path);
	int rc = fdatasync(fd) ? err_errno(e, errno, "fdatasync %s", r->path) : 0;
	close(fd);
	return rc;
}

/* The scratch directory is removed by the runner. */
static void disk_close(struct region *r)
{
	unlink(r->path);
}

const struct approach_ops disk_ops = {
	.name = "disk",
	.summary = "baseline: local file, page cache dropped before the run",
	.caps = CAP_READ | CAP_WRITE,
	.open = disk_open,
	.sync = disk_sync,
	.close = disk_close,
};
