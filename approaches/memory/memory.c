/*
 * memory.c - the `memory` baseline: a local anonymous region.
 *
 * The workload maps anonymous memory and fills it with the initial content
 * itself; there is no remote side and nothing to sync. Every figure carries
 * this line as the upper bound of what a memory region can do.
 */
#include "approach.h"

/* Nothing to set up: the workload maps and fills anonymous memory. */
static int memory_open(const struct scenario *sc, struct region *r, struct err *e)
{
	(void)sc;
	(void)e;
	r->kind = REGION_ANON;
	return 0;
}

/* Nothing to tear down. */
static void memory_close(struct region *r)
{
	(void)r;
}

const struct approach_ops memory_ops = {
	.name = "memory",
	.summary = "baseline: local anonymous memory, no network",
	.caps = CAP_READ | CAP_WRITE,
	.open = memory_open,
	.close = memory_close,
};
