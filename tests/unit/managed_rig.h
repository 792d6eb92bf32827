/*
 * managed_rig.h - the rig of test_managed: memsync's NBD server in the
 * process on a UNIX socket, over memory filled with a known pattern,
 * behind a test backend that can delay reads and fail reads or writes on
 * demand; a remote connected to it; whole-region checks through the engine.
 */
#ifndef MEMSYNC_MANAGED_RIG_H
#define MEMSYNC_MANAGED_RIG_H

#include <stdatomic.h>
#include <stdint.h>

#include "backend.h"

struct managed;
struct nbd_server;
struct remote;

/* Memory that can be slowed down or made to fail. */
struct testb {
	struct backend b;
	struct backend *mem;
	atomic_int read_delay_us, fail_reads, fail_writes;
};

/* A server over a test backend, and a remote connected to it. */
struct rig {
	struct testb tb;
	struct nbd_server *s;   /* NULL once a test stopped it */
	struct remote *r;
	unsigned char *base;    /* the server's memory */
	char sock[160], uri[256];
};

/* Start a server in dir over size bytes of the pattern of seed and connect
 * (remote retries as in remote_opts); exits the test on failure. */
void rig_start(struct rig *g, const char *dir, uint64_t size, unsigned seed, int retries);
/* Bytes the server has sent for reads. */
uint64_t rig_bytes_read(struct rig *g);
/* Close the remote and the server. */
void rig_stop(struct rig *g);

/* Does the whole region read through the engine equal want? */
int region_is(struct managed *m, const unsigned char *want, uint64_t size);
/* Does the whole region read through the engine hold the pattern of seed? */
int region_matches(struct managed *m, uint64_t size, unsigned seed);

/* xorshift64: the tests' random numbers. */
static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#endif
