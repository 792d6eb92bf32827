/*
 * delta_net.c - TCP transport of the delta protocol.
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

#ifdef MEMSYNC_DELTA_TLS
#include <gnutls/gnutls.h>
#endif

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
#ifdef MEMSYNC_DELTA_TLS
	if (c->tls) {
		gnutls_bye(c->tls, GNUTLS_SHUT_WR);
		gnutls_deinit(c->tls);
		c->tls = NULL;
	}
	if (c->tls_cred) {
		if (c->tls_x509)
			gnutls_certificate_free_credentials(c->tls_cred);
		else if (c->tls_server)
			gnutls_psk_free_server_credentials(c->tls_cred);
		else
			gnutls_psk_free_client_credentials(c->tls_cred);
		c->tls_cred = NULL;
	}
#endif
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
#ifdef MEMSYNC_DELTA_TLS
		if (c->tls) {
			n = gnutls_record_send(c->tls, b, len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n < 0)
				return err_set(e, "TLS send failed: %s", gnutls_strerror((int)n));
		} else
#endif
			n = send(c->fd, b, len, MSG_NOSIGNAL);
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
		int pending = 0;
#ifdef MEMSYNC_DELTA_TLS
		pending = c->tls && gnutls_record_check_pending(c->tls) > 0;
#endif
		if (timeout_ms >= 0 && !pending) {
			struct pollfd pf = {c->fd, POLLIN, 0};
			int n = poll(&pf, 1, timeout_ms);
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				return err_set(e, "no data from the peer within %d ms", timeout_ms);
		}
		ssize_t n;
#ifdef MEMSYNC_DELTA_TLS
		if (c->tls) {
			n = gnutls_record_recv(c->tls, dst, cap);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n == GNUTLS_E_FATAL_ALERT_RECEIVED)
				return err_set(e, "TLS: the peer sent the alert '%s' (a refused certificate?)",
					       gnutls_alert_get_name(gnutls_alert_get(c->tls)));
			if (n < 0)
				return err_set(e, "TLS receive failed: %s", gnutls_strerror((int)n));
		} else
#endif
			n = recv(c->fd, dst, cap, 0);
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
#ifdef MEMSYNC_DELTA_TLS
	return 1;
#else
	return 0;
#endif
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

#ifdef MEMSYNC_DELTA_TLS
/* Server side: the one user's key. */
static int psk_lookup(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
	const struct delta_tls *k = gnutls_session_get_ptr(s);
	if (strcmp(user, "memsync"))
		return -1;
	key->data = gnutls_malloc(k->len);
	if (!key->data)
		return -1;
	memcpy(key->data, k->key, k->len);
	key->size = k->len;
	return 0;
}

/* X.509 credentials of one side: the CA to check the peer, our own pair. */
static int x509_credentials(gnutls_session_t s, struct delta_conn *c, const char *dir, int server, struct err *e)
{
	gnutls_certificate_credentials_t cred;
	int rc = gnutls_certificate_allocate_credentials(&cred);
	if (rc)
		return err_set(e, "gnutls: %s", gnutls_strerror(rc));
	c->tls_cred = cred;
	c->tls_x509 = 1;
	char ca[600], cert[600], key[600];
	snprintf(ca, sizeof ca, "%s/ca-cert.pem", dir);
	snprintf(cert, sizeof cert, "%s/%s-cert.pem", dir, server ? "server" : "client");
	snprintf(key, sizeof key, "%s/%s-key.pem", dir, server ? "server" : "client");
	rc = gnutls_certificate_set_x509_trust_file(cred, ca, GNUTLS_X509_FMT_PEM);
	if (rc <= 0)
		return err_set(e, "TLS: no CA certificate loaded from %s: %s", ca, rc ? gnutls_strerror(rc) : "empty");
	rc = gnutls_certificate_set_x509_key_file(cred, cert, key, GNUTLS_X509_FMT_PEM);
	if (rc)
		return err_set(e, "TLS: cannot load %s with %s: %s", cert, key, gnutls_strerror(rc));
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	/* Mutual: the server requires the client's certificate; both verify the
	 * peer's chain against the CA during the handshake. */
	if (server)
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_session_set_verify_cert(s, NULL, 0);
	return 0;
}
#endif

/* TLS 1.3 with a pre-shared key (ECDHE-PSK) or mutual X.509, either side. */
int delta_tls_start(struct delta_conn *c, const struct delta_tls *k, int server, struct err *e)
{
#ifdef MEMSYNC_DELTA_TLS
	gnutls_session_t s;
	int rc = gnutls_init(&s, server ? GNUTLS_SERVER : GNUTLS_CLIENT);
	if (rc)
		return err_set(e, "gnutls_init: %s", gnutls_strerror(rc));
	c->tls = s;
	c->tls_server = server;
	const char *prio = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+PSK";
	if (k->x509_dir[0]) {
		if (x509_credentials(s, c, k->x509_dir, server, e))
			return -1;
		prio = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
	} else if (server) {
		gnutls_psk_server_credentials_t cred;
		gnutls_psk_allocate_server_credentials(&cred);
		gnutls_psk_set_server_credentials_function(cred, psk_lookup);
		gnutls_session_set_ptr(s, (void *)k);
		gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred);
		c->tls_cred = cred;
	} else {
		gnutls_datum_t key = {(unsigned char *)k->key, k->len};
		gnutls_psk_client_credentials_t cred;
		gnutls_psk_allocate_client_credentials(&cred);
		gnutls_psk_set_client_credentials(cred, "memsync", &key, GNUTLS_PSK_KEY_RAW);
		gnutls_credentials_set(s, GNUTLS_CRD_PSK, cred);
		c->tls_cred = cred;
	}
	rc = gnutls_priority_set_direct(s, prio, NULL);
	if (rc)
		return err_set(e, "TLS priorities: %s", gnutls_strerror(rc));
	gnutls_transport_set_int(s, c->fd);
	gnutls_handshake_set_timeout(s, 10000);
	do
		rc = gnutls_handshake(s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		gnutls_alert_send_appropriate(s, rc); /* tell the peer why */
		unsigned status = rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR ? gnutls_session_get_verify_cert_status(s) : 0;
		gnutls_datum_t why = {0};
		if (status && gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0) == 0) {
			err_set(e, "TLS handshake failed: the peer's certificate: %s", why.data);
			gnutls_free(why.data);
			return -1;
		}
		return err_set(e, "TLS handshake failed: %s", gnutls_strerror(rc));
	}
	return 0;
#else
	(void)c, (void)k, (void)server;
	return err_set(e, "delta: built without GnuTLS, tls=psk|x509 unavailable");
#endif
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
