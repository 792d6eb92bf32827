/*
 * fuse_ctl.h - the fuse approach's small control protocol over TCP.
 *
 * Every message is a 24-byte header (type, count, a, b; big endian) and
 * count bytes of payload. Two conversations use it:
 *
 * Change notices (remote host, sc->ctl_port, MODE_ACCESS):
 *   local -> remote   SUB                     subscribe
 *   remote -> local   CHANGED a=off b=len     the remote copy changed there
 *   writer -> remote  WRITE a=off + data      change the remote copy (another
 *                                             writer on the remote); every
 *                                             subscriber gets CHANGED
 *   remote -> writer  ACK a=errno
 *
 * Migration (destination host, sc->ctl_port, MODE_MIGRATE):
 *   source -> dest    HELLO                   before the switch: is the
 *   dest -> source    READY a=chunk           destination pulling?
 *   source -> dest    DIRTY a=n + n (off, len) pairs: written since the pull
 *                                             began; refetch them first
 *   dest -> source    ACK a=errno b=chunks invalidated
 */
#ifndef MEMSYNC_FUSE_CTL_H
#define MEMSYNC_FUSE_CTL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum fuse_ctl_type {
	FUSE_CTL_SUB = 1,
	FUSE_CTL_CHANGED,
	FUSE_CTL_WRITE,
	FUSE_CTL_ACK,
	FUSE_CTL_HELLO,
	FUSE_CTL_READY,
	FUSE_CTL_DIRTY,
};

#define FUSE_CTL_MAX_PAYLOAD (16u << 20)

struct fuse_ctl_msg {
	uint32_t type, count;
	uint64_t a, b;
};

/* Send a message with an optional payload. */
int fuse_ctl_send(int fd, uint32_t type, uint64_t a, uint64_t b, const void *payload, uint32_t count,
		  struct err *e);
/* Receive a message header within timeout_ms (-1: no limit); 0 ok, 1 the
 * peer closed cleanly, -1 error. The payload (m->count bytes) follows. */
int fuse_ctl_recv(int fd, struct fuse_ctl_msg *m, int timeout_ms, struct err *e);
/* Read a payload of len bytes. */
int fuse_ctl_payload(int fd, void *buf, size_t len, struct err *e);
/* Connect to host:port, retrying refused connections until timeout_ms. */
int fuse_ctl_connect(const char *host, int port, int timeout_ms, struct err *e);
/* Listen on host:port (port 0 picks one: fuse_ctl_port()). */
int fuse_ctl_listen(const char *host, int port, struct err *e);
/* The port a socket is bound to. */
int fuse_ctl_port(int fd);

/* A thread serving sockets that also polls t->stop[0]: readable = stop. */
struct fuse_ctl_thread {
	int stop[2];
	pthread_t thread;
	int piped, started;
};
/* Make the stop pipe and start fn(arg). */
int fuse_ctl_thread_start(struct fuse_ctl_thread *t, void *(*fn)(void *), void *arg, struct err *e);
/* Make stop[0] readable, join the thread, close the pipe (fine when never started). */
void fuse_ctl_thread_stop(struct fuse_ctl_thread *t);

#endif
