/*
 * delta_pagemap.h - kernel dirty tracking of another process's file
 * mapping (dirty=pagemap): the workload registered its mapping with
 * userfaultfd in async write-protect mode and handed over the uffd;
 * PAGEMAP_SCAN on /proc/PID/pagemap returns the pages written since the
 * last scan and write-protects them again, atomically (Linux 6.7+).
 */
#ifndef MEMSYNC_DELTA_PAGEMAP_H
#define MEMSYNC_DELTA_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct page_region;

struct delta_pagemap {
	int pm_fd;                  /* /proc/PID/pagemap of the workload */
	int uffd;                   /* the workload's uffd: the registration lives as long as it is open */
	uint64_t addr, size;        /* the workload's mapping */
	uint32_t chunk;
	struct page_region *vec;    /* ranges of one PAGEMAP_SCAN call */
	uint64_t scan_ns;           /* time spent scanning, all scans */
};

/* Can this kernel do async write-protect tracking? (UFFDIO_API feature
 * bits); 0 with the reason in why. */
int delta_pagemap_supported(char *why, size_t wlen);
/* Take over uffd (closed by delta_pagemap_close, also on failure), open the
 * workload's pagemap and arm tracking: write-protect every page, so pages
 * written from now on are reported. */
int delta_pagemap_open(struct delta_pagemap *p, int uffd, int pid, uint64_t addr, uint64_t size, uint32_t chunk,
		       struct err *e);
/* dirty[i] = 1 for every chunk i < nchunks written since the last scan
 * (and write-protect those pages again). */
int delta_pagemap_scan(struct delta_pagemap *p, uint8_t *dirty, uint64_t nchunks, struct err *e);
/* Close everything (also after a failed or no open: call init first). */
void delta_pagemap_close(struct delta_pagemap *p);
/* A tracker that holds nothing yet. */
void delta_pagemap_init(struct delta_pagemap *p);

#endif
