/*
 * nbd_chain.h - what the parts of `memsync-nbd chain` share (the tool
 * only, not the approach's library): the sides as child processes and
 * their line channel (nbd_chain_peer.c), the writer and the chain itself
 * (nbd_chain.c, which says how it works).
 */
#ifndef MEMSYNC_NBD_CHAIN_H
#define MEMSYNC_NBD_CHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "approach.h"
#include "err.h"

#define CHAIN_ADDR "127.0.0.1"  /* every side listens on loopback, a port per hop */
#define EXIT_MS 30000           /* a child exits this long after its channel closed */

enum role { ROLE_ORIGIN, ROLE_SOURCE, ROLE_LEECHER };
enum { P_ORIGIN, P_A, P_B, P_C, NPEERS };

/* A child process and its channel (in the child: its own end). */
struct peer {
	const char *name;
	enum role role;
	const struct scenario *sc;    /* what it starts with */
	const struct scenario *next;  /* the hop it seeds after its own (B) */
	pid_t pid;
	int fd, status, hung;
	char dev[128];                /* from its start: the origin's port, a device path */
	char info[256];               /* from its last answer */
	struct region r;              /* in the child */
};

/* The writer: the device mapped now and the content model's versions. */
struct writer {
	uint64_t size, seed, rng, per_tick;
	uint32_t *versions;
	int fd, on;                   /* on: 0 A, 1 B, 2 C */
	unsigned char *map;
	uint64_t writes[3];
	uint64_t suspended_ns;        /* when the last suspension completed */
};

/* One hop's outcome. */
struct hop_result {
	int done;
	uint64_t moved, resent, downtime_ns;
};

struct chain {
	struct scenario hop[3];       /* 0: the origin's; 1: A -> B; 2: B -> C */
	struct peer peer[NPEERS];
	struct writer w;
	struct hop_result res[3];
	uint64_t phase_ms, kill, rate;
	int verified;
	char workdir[64];
};

/* Send one line. */
int chain_say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read one line without its newline; -1 at end of file or on error. */
int chain_hear(int fd, char *buf, size_t cap);
/* Fork p's process over a fresh channel; it starts its role and answers. */
int chain_spawn(struct chain *ch, struct peer *p, struct err *e);
/* Close p's channel and wait for it to exit (SIGKILL after EXIT_MS). */
void chain_reap(struct peer *p);
/* How a reaped child ended, in words. */
const char *chain_ended(const struct peer *p, char *buf, size_t cap);
/* Forget the writer's mapping without syncing (nbd_chain.c). */
void chain_writer_drop(struct writer *w);

/* memsync-nbd chain ARGS (argv[0] = "chain"): the exit code. */
int nbd_chain_main(int argc, char **argv);

#endif
