/*
 * fuse_fs_none.c - fuse_fs.h in a build without libfuse3: nothing can be
 * mounted. The approach still registers with its options and is listed as
 * unsupported (fuse.c); the runner calls none of its hooks.
 */
#include "fuse_fs.h"

#include <string.h>


/* Nothing can be mounted. */
struct fusefs *fusefs_mount(const struct fusefs_opts *o, struct err *e)
{
	(void)o;
	return err_set(e, "fuse: built without libfuse3"), NULL;
}

const char *fusefs_path(const struct fusefs *fs)
{
	(void)fs;
	return "";
}

uint64_t fusefs_generation(struct fusefs *fs)
{
	(void)fs;
	return 0;
}

int fusefs_store(struct fusefs *fs, uint64_t off, size_t len, const void *data, uint64_t gen, struct err *e)
{
	(void)fs, (void)off, (void)len, (void)data, (void)gen;
	return err_set(e, "fuse: built without libfuse3");
}

int fusefs_seen(struct fusefs *fs, uint64_t off, uint64_t len)
{
	(void)fs, (void)off, (void)len;
	return 1;
}

int fusefs_invalidate(struct fusefs *fs, uint64_t off, uint64_t len, struct err *e)
{
	(void)fs, (void)off, (void)len;
	return err_set(e, "fuse: built without libfuse3");
}

void fusefs_stats(struct fusefs *fs, struct fusefs_stats *s)
{
	(void)fs;
	memset(s, 0, sizeof *s);
}

void fusefs_unmount(struct fusefs *fs)
{
	(void)fs;
}

