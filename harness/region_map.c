/*
 * region_map.c - how the workload process maps the region that the
 * approach's open() described (struct region_desc): a file with
 * mmap(MAP_SHARED), optionally registered for asynchronous write-protect
 * dirty tracking; anonymous memory filled with version-0 content; or
 * anonymous memory registered with a new userfaultfd that is handed to the
 * approach's handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io.h"
#include "runner_int.h"
#include "uapi_compat.h"

/* What a userfaultfd registration asks for, and what its failures say. */
struct uffd_reg {
	uint64_t features, mode;
	const char *open_why, *api_why, *register_why;
};

/* A new userfaultfd with the features, the mapping registered in the mode. */
static int region_uffd(const struct uffd_reg *q, void *map, uint64_t size, int *uffd_out, struct err *e)
{
	int uffd = userfaultfd_open();
	if (uffd < 0)
		return err_errno(e, errno, "%s", q->open_why);
	struct uffdio_api api = {.api = UFFD_API, .features = q->features};
	struct uffdio_register reg = {.range = {(uintptr_t)map, size}, .mode = q->mode};
	if (ioctl(uffd, UFFDIO_API, &api)) {
		err_errno(e, errno, "%s", q->api_why);
	} else if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		err_errno(e, errno, "%s", q->register_why);
	} else {
		*uffd_out = uffd;
		return 0;
	}
	close(uffd);
	return -1;
}

/* REGION_FILE with wp: register the file mapping with userfaultfd in
 * asynchronous write-protect mode (Linux 6.7+), so the local side can find
 * the written pages with PAGEMAP_SCAN on /proc/PID/pagemap; the descriptor
 * is handed to the local side, which keeps the registration alive. */
static int region_track_file(void *map, uint64_t size, int *uffd_out, struct err *e)
{
	static const struct uffd_reg q = {
		.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
		.mode = UFFDIO_REGISTER_MODE_WP,
		.open_why = "userfaultfd() for write tracking failed",
		.api_why = "UFFDIO_API with UFFD_FEATURE_WP_ASYNC failed (needs Linux 6.7+)",
		.register_why = "UFFDIO_REGISTER (write-protect) of the file mapping failed",
	};
	return region_uffd(&q, map, size, uffd_out, e);
}

/* REGION_FILE: open and map the file shared. */
static unsigned char *region_map_file(const struct region_desc *d, int *uffd_out, struct err *e)
{
	int fd = open(d->path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno, "cannot open region %s", d->path), NULL;
	unsigned char *map = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int saved = errno;
	close(fd);
	if (map == MAP_FAILED)
		return err_errno(e, saved, "cannot mmap %s", d->path), NULL;
	if (d->wp && region_track_file(map, d->size, uffd_out, e)) {
		munmap(map, d->size);
		return NULL;
	}
	return map;
}

/* REGION_ANON_UFFD: a userfaultfd for the mapping, missing (and wp) mode. */
static int region_register_uffd(const struct region_desc *d, void *map, int *uffd_out, struct err *e)
{
	struct uffd_reg q = {
		.features = d->wp ? UFFD_FEATURE_PAGEFAULT_FLAG_WP : 0,
		.mode = UFFDIO_REGISTER_MODE_MISSING | (d->wp ? UFFDIO_REGISTER_MODE_WP : 0),
		.open_why = "userfaultfd() failed (vm.unprivileged_userfaultfd or CAP_SYS_PTRACE?)",
		.api_why = d->wp ? "UFFDIO_API failed (write-protect mode unsupported?)" : "UFFDIO_API failed",
		.register_why = "UFFDIO_REGISTER failed",
	};
	return region_uffd(&q, map, d->size, uffd_out, e);
}

/* Map the region as described; for uffd, create and register the descriptor. */
unsigned char *region_map(const struct region_desc *d, const struct content_model *m, int *uffd_out,
			  struct err *e)
{
	*uffd_out = -1;
	if (d->kind == REGION_FILE)
		return region_map_file(d, uffd_out, e);
	unsigned char *map =
		mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return err_errno(e, errno, "cannot map %llu bytes of anonymous memory", (unsigned long long)d->size),
		       NULL;
	if (d->kind == REGION_ANON) {
		content_fill(m, map, 0, d->size);
		return map;
	}
	if (region_register_uffd(d, map, uffd_out, e)) {
		munmap(map, d->size);
		return NULL;
	}
	return map;
}
