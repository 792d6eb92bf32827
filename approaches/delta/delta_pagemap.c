/*
 * delta_pagemap.c - dirty chunks of the workload's mapping from the kernel:
 * userfaultfd async write-protect + PAGEMAP_SCAN (see delta_pagemap.h and
 * README.md, "Kernel dirty tracking"). The compat definitions for kernels
 * newer than the build's headers are in uapi_compat.h.
 */
#include "delta_pagemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "uapi_compat.h"

#define PM_VEC_LEN 1024 /* page ranges per PAGEMAP_SCAN call */

/* Can this kernel do async write-protect tracking? */
int delta_pagemap_supported(char *why, size_t wlen)
{
	int uffd = userfaultfd_open();
	if (uffd < 0) {
		snprintf(why, wlen, "userfaultfd() failed: %s", strerror(errno));
		return 0;
	}
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	int ok = ioctl(uffd, UFFDIO_API, &api) == 0;
	close(uffd);
	if (!ok) {
		snprintf(why, wlen, "UFFDIO_API failed: %s", strerror(errno));
		return 0;
	}
	uint64_t need = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	if ((api.features & need) != need) {
		snprintf(why, wlen, "the kernel lacks UFFD_FEATURE_WP_ASYNC/WP_UNPOPULATED (Linux 6.7+)");
		return 0;
	}
	return 1;
}

/* A tracker that holds nothing yet. */
void delta_pagemap_init(struct delta_pagemap *p)
{
	memset(p, 0, sizeof *p);
	p->pm_fd = p->uffd = -1;
}

/* Collect the written chunks and write-protect them again. */
int delta_pagemap_scan(struct delta_pagemap *p, uint8_t *dirty, uint64_t nchunks, struct err *e)
{
	memset(dirty, 0, nchunks ? nchunks : 1);
	uint64_t start = p->addr, end = p->addr + p->size;
	uint64_t t0 = now_ns();
	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof a,
			.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = start,
			.end = end,
			.vec = (uintptr_t)p->vec,
			.vec_len = PM_VEC_LEN,
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN,
		};
		long n = ioctl(p->pm_fd, PAGEMAP_SCAN, &a);
		if (n < 0)
			return err_errno(e, errno, "PAGEMAP_SCAN on the workload's mapping failed");
		for (long i = 0; i < n; i++) {
			uint64_t s = p->vec[i].start - p->addr, t = p->vec[i].end - p->addr;
			for (uint64_t c = s / p->chunk; c <= (t - 1) / p->chunk && c < nchunks; c++)
				dirty[c] = 1;
		}
		if (a.walk_end <= start)
			break;
		start = a.walk_end;
	}
	p->scan_ns += now_ns() - t0;
	return 0;
}

/* Take over the uffd, open the pagemap, arm tracking. */
int delta_pagemap_open(struct delta_pagemap *p, int uffd, int pid, uint64_t addr, uint64_t size, uint32_t chunk,
		       struct err *e)
{
	p->uffd = uffd;
	p->addr = addr;
	p->size = size;
	p->chunk = chunk;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/pagemap", pid);
	p->pm_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->pm_fd < 0)
		return err_errno(e, errno, "cannot open %s", path);
	uint64_t n = (size + chunk - 1) / chunk;
	p->vec = calloc(PM_VEC_LEN, sizeof *p->vec);
	uint8_t *scratch = calloc(n ? n : 1, 1);
	int rc = !p->vec || !scratch ? err_set(e, "out of memory") : delta_pagemap_scan(p, scratch, n, e);
	free(scratch);
	return rc;
}

/* Close everything. */
void delta_pagemap_close(struct delta_pagemap *p)
{
	if (p->pm_fd >= 0)
		close(p->pm_fd);
	if (p->uffd >= 0)
		close(p->uffd);
	free(p->vec);
	delta_pagemap_init(p);
}
