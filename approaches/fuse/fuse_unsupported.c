/*
 * fuse_unsupported.c - the `fuse` approach in a build without libfuse3:
 * listed with the reason, every scenario skipped.
 */
#include "approach.h"

/* Never reached: the runner skips an unsupported approach. */
static int fuse_open_unsupported(const struct scenario *sc, struct region *r, struct err *e)
{
	(void)sc, (void)r;
	return err_set(e, "fuse: built without libfuse3");
}

/* Nothing to tear down. */
static void fuse_close_unsupported(struct region *r)
{
	(void)r;
}

const struct approach_ops fuse_ops = {
	.name = "fuse",
	.summary = "libfuse3 file mapped MAP_SHARED (direct or managed mount)",
	.caps = CAP_READ | CAP_WRITE | CAP_PREFETCH, /* no remote hooks in this build */
	.unsupported = "libfuse3 (libfuse3-dev) not found at build time",
	.open = fuse_open_unsupported,
	.close = fuse_close_unsupported,
};
