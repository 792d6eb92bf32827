/*
 * verify.c - byte-for-byte verification, done by the harness only: the
 * workload's view of the region and the remote copy (read through the
 * approach's remote_read()) must equal the content model. A mismatch names
 * the first bad byte, its block and the version the model expected.
 */
#include <stdlib.h>

#include "log.h"
#include "runner_int.h"

#define VERIFY_REMOTE_STEP (4u << 20) /* bytes read from the remote copy per remote_read() */

/* Say where the content first differs. */
static int verify_mismatch(const char *what, const struct content_model *m, uint64_t bad, struct err *e)
{
	return err_set(e, "%s differs at byte %llu (block %llu, expected version %u)", what, (unsigned long long)bad,
		       (unsigned long long)(bad / CONTENT_BLOCK), content_version(m, bad));
}

/* Check the whole mapping against the model; records the first bad offset. */
int verify_mapping(const unsigned char *map, const struct content_model *m, uint64_t *bad, struct err *e)
{
	if (content_check(m, map, 0, m->size, bad) == 0)
		return 0;
	return verify_mismatch("content", m, *bad, e);
}

/* Read the remote copy in steps and check each against the model. */
int verify_remote(struct host *h, const struct content_model *m, uint64_t *bad, struct err *e)
{
	unsigned char *buf = malloc(VERIFY_REMOTE_STEP);
	if (!buf)
		return err_set(e, "out of memory for verifying the remote copy");
	int rc = 0;
	for (uint64_t off = 0; !rc && off < m->size; off += VERIFY_REMOTE_STEP) {
		size_t n = m->size - off < VERIFY_REMOTE_STEP ? (size_t)(m->size - off) : VERIFY_REMOTE_STEP;
		if (h->sc->ops->remote_read(h, buf, n, off, e))
			rc = -1;
		else if (content_check(m, buf, off, n, bad))
			rc = verify_mismatch("remote copy", m, *bad, e);
	}
	free(buf);
	return rc;
}

/* Test hook: MEMSYNC_INJECT_CORRUPTION=OFFSET flips one byte of the mapping
 * after the workload, so tests can prove that verification catches it. */
void verify_inject_corruption(unsigned char *map, uint64_t size)
{
	const char *v = getenv("MEMSYNC_INJECT_CORRUPTION");
	if (!v || !*v)
		return;
	uint64_t off = strtoull(v, NULL, 0);
	if (off < size) {
		map[off] ^= 0x5a;
		log_warn("MEMSYNC_INJECT_CORRUPTION: flipped byte %llu of the region", (unsigned long long)off);
	}
}
