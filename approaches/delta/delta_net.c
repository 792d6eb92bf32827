/*
 * delta_net.c - TCP transport of the delta protocol; TLS through the
 * suite's one GnuTLS wrapper (approaches/common/tls.h).
 */
#include "delta_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WBUF_CAP (256u << 10)
#define IBUF_CAP (256u << 10)

/* Socket options for bulk transfer without Nagle delays. */
static void tune(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
}

/* Parse an IPv4 address and port. */
static int mkaddr(struct sockaddr_in *sa, const char *addr, int port, struct err *e)
{
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (!addr || !*addr)
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
		return err_set(e, "bad IPv4 address '%s'", addr);
	return 0;
}

/* Listen on addr:port. */
int delta_listen(const char *addr, int *port, struct err *e)
{
	struct sockaddr_in sa;
	if (mkaddr(&sa, addr, *port, e))
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, errno, "socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 16)) {
		err_errno(e, errno, "cannot listen on %s:%d", addr ? addr : "*", *port);
		close(fd);
		return -1;
	}
	socklen_t sl = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Take over a connected socket. */
int delta_conn_init(struct delta_conn *c, int fd, struct err *e)
{
	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->wbuf = malloc(WBUF_CAP);
	c->rbuf = malloc(DELTA_MAX_PAYLOAD);
	c->ibuf = malloc(IBUF_CAP);
	if (!c->wbuf || !c->rbuf || !c->ibuf) {
		delta_conn_close(c);
		return err_set(e, "out of memory");
	}
	tune(fd);
	return 0;
}

/* Accept one connection. */
int delta_accept(int lfd, struct delta_conn *c, int timeout_ms, struct err *e)
{
	struct pollfd p = {lfd, POLLIN, 0};
	int n = poll(&p, 1, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : err_errno(e, errno, "poll");
	if (n == 0)
		return 0;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ? 0 : err_errno(e, errno, "accept");
	return delta_conn_init(c, fd, e) ? -1 : 1;
}

/* Connect, retrying while the peer is not listening yet. */
int delta_connect(struct delta_conn *c, const char *addr, int port, int timeout_ms, struct err *e)
{
	struct sockaddr_in sa;
	if (mkaddr(&sa, addr, port, e))
		return -1;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return err_errno(e, errno, "socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			return delta_conn_init(c, fd, e);
		int saved = errno;
		close(fd);
		clock_gettime(CLOCK_MONOTONIC, &t);
		long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= timeout_ms || (saved != ECONNREFUSED && saved != ENETUNREACH && saved != EHOSTUNREACH &&
					 saved != ETIMEDOUT && saved != EINTR))
			return err_errno(e, saved, "cannot connect to %s:%d", addr, port);
		usleep(20000);
	}
}

/* Close and free. */
void delta_conn_close(struct delta_conn *c)
{
	tls_session_free(c->tls);
	tls_config_free(c->tls_cfg);
	c->tls = NULL;
	c->tls_cfg = NULL;
	if (c->fd >= 0 && (c->wbuf || c->rbuf))
		close(c->fd);
	c->fd = -1;
	free(c->wbuf);
	free(c->rbuf);
	free(c->ibuf);
	c->wbuf = c->rbuf = c->ibuf = NULL;
	c->ibeg = c->iend = 0;
}

/* Write all bytes. */
static int write_all(struct delta_conn *c, const void *p, size_t len, struct err *e)
{
	const uint8_t *b = p;
	while (len) {
		ssize_t n;
		if (c->tls) {
			n = tls_send(c->tls, b, len);
			if (n < 0)
				return tls_session_err(c->tls, 1, e);
		} else {
			n = send(c->fd, b, len, MSG_NOSIGNAL);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_errno(e, n < 0 ? errno : EPIPE, "send to the peer failed");
		b += n;
		len -= (size_t)n;
		c->bytes_out += (uint64_t)n;
	}
	return 0;
}

/* Send everything queued. */
int delta_flush(struct delta_conn *c, struct err *e)
{
	if (!c->wlen)
		return 0;
	size_t n = c->wlen;
	c->wlen = 0;
	return write_all(c, c->wbuf, n, e);
}

/* Queue bytes. */
int delta_put(struct delta_conn *c, const void *p, size_t len, struct err *e)
{
	if (c->wlen + len > WBUF_CAP) {
		if (delta_flush(c, e))
			return -1;
		if (len >= WBUF_CAP / 2)
			return write_all(c, p, len, e);
	}
	memcpy(c->wbuf + c->wlen, p, len);
	c->wlen += len;
	return 0;
}

/* Read exactly len bytes (0 ok, -1 error; eof says whether the peer closed
 * cleanly at a frame boundary): from the read-ahead buffer first; a short
 * remainder refills the buffer with one recv, a long one is read in place. */
static int read_all(struct delta_conn *c, void *p, size_t len, int timeout_ms, int *eof, int in_frame, struct err *e)
{
	uint8_t *b = p;
	size_t got = 0;
	while (got < len) {
		if (c->iend > c->ibeg) {
			size_t k = c->iend - c->ibeg < len - got ? c->iend - c->ibeg : len - got;
			memcpy(b + got, c->ibuf + c->ibeg, k);
			c->ibeg += k;
			got += k;
			continue;
		}
		int direct = len - got >= IBUF_CAP / 2;
		uint8_t *dst = direct ? b + got : c->ibuf;
		size_t cap = direct ? len - got : IBUF_CAP;
		int pending = c->tls && tls_pending(c->tls) > 0;
		if (timeout_ms >= 0 && !pending) {
			struct pollfd pf = {c->fd, POLLIN, 0};
			int n = poll(&pf, 1, timeout_ms);
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				return err_set(e, "no data from the peer within %d ms", timeout_ms);
		}
		ssize_t n;
		if (c->tls) {
			n = tls_recv(c->tls, dst, cap);
			if (n < 0)
				return tls_session_err(c->tls, 0, e);
		} else {
			n = recv(c->fd, dst, cap, 0);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_errno(e, errno, "receive from the peer failed");
		if (n == 0) {
			*eof = got == 0 && !in_frame;
			return err_set(e, got || in_frame ? "peer closed the connection inside a frame (truncated frame)"
					      : "peer closed the connection");
		}
		c->bytes_in += (uint64_t)n;
		if (direct) {
			got += (size_t)n;
		} else {
			c->ibeg = 0;
			c->iend = (size_t)n;
		}
	}
	return 0;
}

/* Receive and decode one frame. */
int delta_recv(struct delta_conn *c, struct delta_msg *m, int timeout_ms, struct err *e)
{
	uint8_t hdr[DELTA_HDR_LEN];
	const char *why = "?";
	int eof = 0;
	if (delta_flush(c, e) || read_all(c, hdr, sizeof hdr, timeout_ms, &eof, 0, e))
		return -1;
	if (delta_hdr_decode(hdr, m, &why))
		return err_set(e, "malformed frame header from the peer: %s", why);
	if (m->len && read_all(c, c->rbuf, m->len, timeout_ms, &eof, 1, e))
		return -1;
	if (delta_payload_decode(c->rbuf, m, &why))
		return err_set(e, "malformed frame (type %u) from the peer: %s", m->type, why);
	if (m->type == DELTA_ERROR)
		return err_set(e, "peer reported error %u: %.*s", m->u.error.code, (int)m->u.error.len, m->u.error.text);
	return 0;
}

/* 1 when TLS is configured. */
int delta_tls_on(const struct delta_tls *t)
{
	return t->len > 0 || t->x509_dir[0] != '\0';
}

/* 1 when built with GnuTLS. */
int delta_tls_available(void)
{
	return tls_available();
}

static const char *const x509_files[] = {"ca-cert.pem", "server-cert.pem", "server-key.pem", "client-cert.pem",
					 "client-key.pem"};

/* Check that an X.509 directory has every file a side needs. */
int delta_tls_check_dir(const char *dir, struct err *e)
{
	for (size_t i = 0; i < sizeof x509_files / sizeof x509_files[0]; i++) {
		char p[600];
		snprintf(p, sizeof p, "%s/%s", dir, x509_files[i]);
		if (access(p, R_OK))
			return err_errno(e, errno, "delta: tls=x509: cannot read %s (the directory needs %s, %s, %s, %s "
					 "and %s; see approaches/delta/README.md)", p, x509_files[0], x509_files[1],
					 x509_files[2], x509_files[3], x509_files[4]);
	}
	return 0;
}

/* TLS 1.3 with a pre-shared key (user "memsync") or mutual X.509, either
 * side, through the suite's one TLS wrapper (approaches/common/tls.h). */
int delta_tls_start(struct delta_conn *c, const struct delta_tls *k, int server, struct err *e)
{
	if (!tls_available())
		return err_set(e, "delta: built without GnuTLS, tls=psk|x509 unavailable");
	struct tls_opts o = {.client = !server, .tls13_only = 1};
	if (k->x509_dir[0]) {
		o.x509_dir = k->x509_dir;
		o.x509_mutual = 1;
	} else {
		o.psk_user = "memsync";
		o.psk_key = k->key;
		o.psk_len = k->len;
	}
	c->tls_cfg = tls_config_new(&o, e);
	if (!c->tls_cfg)
		return -1;
	c->tls = tls_start(c->tls_cfg, c->fd, e);
	return c->tls ? 0 : -1;
}

/* Send an ERROR frame (best effort). */
void delta_send_error(struct delta_conn *c, uint32_t code, const char *msg)
{
	uint8_t h[DELTA_HDR_LEN + 8];
	size_t len = strlen(msg);
	if (len > DELTA_MAX_ERRMSG)
		len = DELTA_MAX_ERRMSG;
	struct err e = {0};
	size_t n = delta_enc_error(h, code, (uint16_t)len);
	if (!delta_put(c, h, n, &e) && !delta_put(c, msg, len, &e))
		delta_flush(c, &e);
}
