/*
 * nbd_server_conn.c - one connection's I/O for the NBD server: its byte
 * stream (a socket, TLS after STARTTLS, or memory for the fuzz target),
 * closing it on bad input with one log line, and the buffers its phases
 * grow (see nbd_server_int.h). It calls none of the phases.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "nbd_server_int.h"

/* Receive what has arrived, up to len bytes (blocking until something has). */
ssize_t nbd_conn_read_some(struct nbd_conn *c, void *buf, size_t len)
{
	if (c->tls)
		return tls_recv(c->tls, buf, len);
	if (c->mem) {
		struct nbd_membuf *m = c->mem;
		size_t n = m->len - m->pos < len ? m->len - m->pos : len;
		memcpy(buf, m->in + m->pos, n);
		m->pos += n;
		return (ssize_t)n;
	}
	ssize_t n;
	do
		n = recv(c->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	return n;
}

/* Receive exactly len bytes; *got says how many came before EOF or an error. */
int nbd_conn_recv(struct nbd_conn *c, void *buf, size_t len, size_t *got)
{
	unsigned char *p = buf;
	size_t done = 0;
	int rc = 0;
	while (done < len) {
		ssize_t n = nbd_conn_read_some(c, p + done, len - done);
		if (n <= 0) {
			rc = -1;
			break;
		}
		done += (size_t)n;
	}
	if (got)
		*got = done;
	return rc;
}

/* Read and throw away len bytes without allocating. */
int nbd_conn_skip(struct nbd_conn *c, uint64_t len)
{
	unsigned char scratch[4096];
	while (len) {
		size_t n = len < sizeof scratch ? (size_t)len : sizeof scratch;
		if (nbd_conn_recv(c, scratch, n, NULL))
			return -1;
		len -= n;
	}
	return 0;
}

/* Write some of iov: bytes written, or -1. */
static ssize_t conn_write_some(struct nbd_conn *c, struct iovec *iov, int iovcnt)
{
	if (c->tls)
		return tls_send(c->tls, iov->iov_base, iov->iov_len);
	if (c->mem) {
		size_t n = 0;
		for (int i = 0; i < iovcnt; i++)
			n += iov[i].iov_len;
		c->mem->sent += n;
		return (ssize_t)n;
	}
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n;
	do
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

/* Send an iovec fully. */
int nbd_conn_sendv(struct nbd_conn *c, struct iovec *iov, int iovcnt)
{
	while (iovcnt > 0) {
		if (iov->iov_len == 0) {
			iov++, iovcnt--;
			continue;
		}
		ssize_t n = conn_write_some(c, iov, iovcnt);
		if (n < 0)
			return -1;
		size_t left = (size_t)n;
		while (iovcnt > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++, iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (unsigned char *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

/* Send one buffer fully. */
int nbd_conn_send(struct nbd_conn *c, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	return nbd_conn_sendv(c, &iov, 1);
}

/* Mark dead; shut the socket down so that blocked workers wake up. */
void nbd_conn_kill(struct nbd_conn *c)
{
	atomic_store(&c->dead, 1);
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
}

/* Mark dead for reading only: the replies in progress still go out. */
void nbd_conn_stop_reading(struct nbd_conn *c)
{
	atomic_store(&c->dead, 1);
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RD);
}

/* Log a protocol violation and close this connection. */
int nbd_conn_drop(struct nbd_conn *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_info("nbd: %s: %s; closing connection", c->peer, msg);
	atomic_fetch_add(&c->s->protocol_errors, 1);
	nbd_conn_kill(c);
	return -1;
}

/* One line for a request refused with an error. */
void nbd_conn_log_error(struct nbd_conn *c, const struct nbd_request *r, uint32_t error)
{
	char name[16];
	log_info("nbd: %s: %s offset %" PRIu64 " length %u flags 0x%x: error %u", c->peer,
		 nbd_cmd_name(r->type, name, sizeof name), r->offset, r->length, r->flags, error);
}

/* Resize a buffer to cap bytes; on failure it stays as it was. */
int nbd_buf_resize(unsigned char **buf, size_t *cap_now, size_t cap)
{
	unsigned char *p = realloc(*buf, cap);
	if (!p)
		return -1;
	*buf = p;
	*cap_now = cap;
	return 0;
}
