/*
 * test_uffd_copy.c - uffd_copy_in() against a real userfaultfd in this
 * process: whole-range copies, pages already present (EEXIST skipped, the
 * rest installed), write-protected installs that a later write reports as a
 * WP fault. Skips (77) when userfaultfd is unavailable.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "approaches/uffd/uffd_int.h"
#include "check.h"
#include "io.h"

#define NPAGES 16

static unsigned char *region;

/* Writer thread: one write to a write-protected page (blocks until resolved). */
static void *writer(void *arg)
{
	(void)arg;
	region[5 * UFFD_PAGE] = 0x77;
	return NULL;
}

int main(void)
{
	int fd = userfaultfd_open();
	if (fd < 0) {
		printf("skip: userfaultfd: %s\n", strerror(errno));
		return 77;
	}
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP};
	if (ioctl(fd, UFFDIO_API, &api)) {
		printf("skip: UFFDIO_API with WP: %s\n", strerror(errno));
		return 77;
	}
	region = mmap(NULL, NPAGES * UFFD_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(region != MAP_FAILED);
	struct uffdio_register reg = {.range = {(uintptr_t)region, NPAGES * UFFD_PAGE},
				      .mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP};
	CHECK(ioctl(fd, UFFDIO_REGISTER, &reg) == 0);

	struct uffd *u = calloc(1, sizeof *u);
	u->uffd = fd;
	u->base = (uintptr_t)region;
	u->size = NPAGES * UFFD_PAGE;
	u->chunk = 4 * UFFD_PAGE;
	u->nchunks = NPAGES / 4;
	unsigned char *src = aligned_alloc(UFFD_PAGE, NPAGES * UFFD_PAGE), *one = aligned_alloc(UFFD_PAGE, UFFD_PAGE);
	for (int i = 0; i < NPAGES * (int)UFFD_PAGE; i++)
		src[i] = (unsigned char)(i * 7 + i / UFFD_PAGE);
	memset(one, 0xab, UFFD_PAGE);

	/* Page 3 arrives first (an overtaking fetch), then the whole range. */
	CHECK(uffd_copy_in(u, one, 3 * UFFD_PAGE, UFFD_PAGE, 0) == 0);
	CHECK(uffd_copy_in(u, src, 0, NPAGES * UFFD_PAGE, 1) == 0);
	CHECK(memcmp(region, src, 3 * UFFD_PAGE) == 0);
	CHECK(region[3 * UFFD_PAGE] == 0xab && region[4 * UFFD_PAGE - 1] == 0xab);
	CHECK(memcmp(region + 4 * UFFD_PAGE, src + 4 * UFFD_PAGE, (NPAGES - 4) * UFFD_PAGE) == 0);
	/* Everything present: a second copy skips every page and succeeds. */
	CHECK(uffd_copy_in(u, src, 0, NPAGES * UFFD_PAGE, 0) == 0);
	CHECK(region[3 * UFFD_PAGE] == 0xab);

	/* Page 5 was installed write-protected: a write faults with the WP flag. */
	pthread_t t;
	CHECK(pthread_create(&t, NULL, writer, NULL) == 0);
	struct pollfd p = {fd, POLLIN, 0};
	CHECK(poll(&p, 1, 5000) == 1);
	struct uffd_msg m;
	CHECK(read(fd, &m, sizeof m) == sizeof m);
	CHECK(m.event == UFFD_EVENT_PAGEFAULT);
	CHECK((m.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) != 0);
	CHECK((m.arg.pagefault.address & ~(uint64_t)(UFFD_PAGE - 1)) == (uintptr_t)region + 5 * UFFD_PAGE);
	struct uffdio_writeprotect wp = {.range = {(uintptr_t)region + 4 * UFFD_PAGE, 4 * UFFD_PAGE}, .mode = 0};
	CHECK(ioctl(fd, UFFDIO_WRITEPROTECT, &wp) == 0);
	pthread_join(t, NULL);
	CHECK(region[5 * UFFD_PAGE] == 0x77);

	free(src);
	free(one);
	free(u);
	munmap(region, NPAGES * UFFD_PAGE);
	close(fd);
	return check_done();
}
