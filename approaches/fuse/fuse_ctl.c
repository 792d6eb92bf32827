/*
 * fuse_ctl.c - the fuse approach's control protocol: framing and sockets
 * (see fuse_ctl.h).
 */
#include "fuse_ctl.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"

/* Send header and payload. */
int fuse_ctl_send(int fd, uint32_t type, uint64_t a, uint64_t b, const void *payload, uint32_t count,
		  struct err *e)
{
	unsigned char h[24];
	uint32_t t = htobe32(type), c = htobe32(count);
	uint64_t ba = htobe64(a), bb = htobe64(b);
	memcpy(h, &t, 4);
	memcpy(h + 4, &c, 4);
	memcpy(h + 8, &ba, 8);
	memcpy(h + 16, &bb, 8);
	if (write_all(fd, h, sizeof h) || (count && write_all(fd, payload, count)))
		return err_errno(e, errno, "control: send");
	return 0;
}

/* Receive one header. */
int fuse_ctl_recv(int fd, struct fuse_ctl_msg *m, int timeout_ms, struct err *e)
{
	if (timeout_ms >= 0) {
		struct pollfd p = {fd, POLLIN, 0};
		int n;
		do
			n = poll(&p, 1, timeout_ms);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return err_errno(e, errno, "control: poll");
		if (n == 0)
			return err_errno(e, ETIMEDOUT, "control: no message within %d ms", timeout_ms);
	}
	unsigned char h[24];
	ssize_t got;
	do
		got = recv(fd, h, 1, MSG_PEEK);
	while (got < 0 && errno == EINTR);
	if (got == 0)
		return 1;
	if (got < 0 || read_all(fd, h, sizeof h))
		return err_errno(e, got < 0 ? errno : EPIPE, "control: receive");
	uint32_t t, c;
	uint64_t a, b;
	memcpy(&t, h, 4);
	memcpy(&c, h + 4, 4);
	memcpy(&a, h + 8, 8);
	memcpy(&b, h + 16, 8);
	m->type = be32toh(t);
	m->count = be32toh(c);
	m->a = be64toh(a);
	m->b = be64toh(b);
	if (m->count > FUSE_CTL_MAX_PAYLOAD)
		return err_set(e, "control: payload of %u bytes is too large", m->count);
	return 0;
}

/* Read a payload. */
int fuse_ctl_payload(int fd, void *buf, size_t len, struct err *e)
{
	if (len && read_all(fd, buf, len))
		return err_errno(e, errno, "control: payload");
	return 0;
}

/* Resolve host:port into an IPv4/IPv6 address. */
static int resolve(const char *host, int port, struct addrinfo **out, int passive, struct err *e)
{
	char ps[16];
	snprintf(ps, sizeof ps, "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
	int rc = getaddrinfo(host, ps, &hints, out);
	if (rc)
		return err_set(e, "control: cannot resolve %s:%d: %s", host, port, gai_strerror(rc));
	return 0;
}

/* Connect, retrying until timeout_ms (the peer may not listen yet). */
int fuse_ctl_connect(const char *host, int port, int timeout_ms, struct err *e)
{
	struct addrinfo *ai;
	if (resolve(host, port, &ai, 0, e))
		return -1;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int fd = -1, en = 0;
	for (;;) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			en = errno;
			break;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		en = errno;
		close(fd);
		fd = -1;
		if (now_ns() >= deadline || (en != ECONNREFUSED && en != ENETUNREACH && en != EHOSTUNREACH))
			break;
		usleep(5000);
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return err_errno(e, en, "control: cannot connect to %s:%d", host, port);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

/* Listen on host:port. */
int fuse_ctl_listen(const char *host, int port, struct err *e)
{
	struct addrinfo *ai;
	if (resolve(host, port, &ai, 1, e))
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		int en = errno;
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return err_errno(e, en, "control: cannot listen on %s:%d", host, port);
	}
	freeaddrinfo(ai);
	return fd;
}

/* The local port of a socket. */
int fuse_ctl_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Start a thread with a stop pipe. */
int fuse_ctl_thread_start(struct fuse_ctl_thread *t, void *(*fn)(void *), void *arg, struct err *e)
{
	if (pipe2(t->stop, O_CLOEXEC))
		return err_errno(e, errno, "control: pipe");
	t->piped = 1;
	int rc = pthread_create(&t->thread, NULL, fn, arg);
	if (rc)
		return err_errno(e, rc, "control: cannot start a thread");
	t->started = 1;
	return 0;
}

/* Stop and join it, close the pipe. */
void fuse_ctl_thread_stop(struct fuse_ctl_thread *t)
{
	if (t->started) {
		if (write_all(t->stop[1], "x", 1))
			return; /* cannot tell it: leave it (never seen) rather than hang */
		pthread_join(t->thread, NULL);
		t->started = 0;
	}
	if (t->piped) {
		close(t->stop[0]);
		close(t->stop[1]);
		t->piped = 0;
	}
}
