/* tls.c - GnuTLS server sessions for the NBD server (see tls.h). */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef MEMSYNC_HAVE_GNUTLS
#include <gnutls/gnutls.h>

struct tls_config {
	int psk; /* 1 PSK, 0 X.509 */
	gnutls_psk_server_credentials_t psk_cred;
	gnutls_certificate_credentials_t x509_cred;
	gnutls_priority_t priority;
};

struct tls_session {
	gnutls_session_t session;
};

/* Built with GnuTLS. */
int tls_available(void)
{
	return 1;
}

/* Load a PSK file; the same priority string nbdkit uses for PSK. */
struct tls_config *tls_config_psk(const char *psk_file, struct err *e)
{
	struct tls_config *c = calloc(1, sizeof *c);
	if (!c)
		return err_errno(e, errno, "tls"), NULL;
	c->psk = 1;
	if (access(psk_file, R_OK)) {
		err_errno(e, errno, "tls: PSK file %s", psk_file);
		goto fail;
	}
	int rc = gnutls_psk_allocate_server_credentials(&c->psk_cred);
	if (rc == 0)
		rc = gnutls_psk_set_server_credentials_file(c->psk_cred, psk_file);
	if (rc == 0)
		rc = gnutls_priority_init(&c->priority, "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK", NULL);
	if (rc) {
		err_set(e, "tls: PSK file %s: %s", psk_file, gnutls_strerror(rc));
		goto fail;
	}
	return c;
fail:
	tls_config_free(c);
	return NULL;
}

/* Load server-cert.pem/server-key.pem (and ca-cert.pem if present) from dir. */
struct tls_config *tls_config_x509(const char *dir, struct err *e)
{
	char cert[4096], key[4096], ca[4096];
	snprintf(cert, sizeof cert, "%s/server-cert.pem", dir);
	snprintf(key, sizeof key, "%s/server-key.pem", dir);
	snprintf(ca, sizeof ca, "%s/ca-cert.pem", dir);
	struct tls_config *c = calloc(1, sizeof *c);
	if (!c)
		return err_errno(e, errno, "tls"), NULL;
	int rc = gnutls_certificate_allocate_credentials(&c->x509_cred);
	if (rc == 0 && access(ca, R_OK) == 0 &&
	    gnutls_certificate_set_x509_trust_file(c->x509_cred, ca, GNUTLS_X509_FMT_PEM) < 0)
		rc = GNUTLS_E_FILE_ERROR;
	if (rc == 0)
		rc = gnutls_certificate_set_x509_key_file(c->x509_cred, cert, key, GNUTLS_X509_FMT_PEM);
	if (rc == 0)
		rc = gnutls_priority_init(&c->priority, "NORMAL", NULL);
	if (rc) {
		err_set(e, "tls: X.509 credentials in %s: %s", dir, gnutls_strerror(rc));
		tls_config_free(c);
		return NULL;
	}
	return c;
}

/* Free credentials. */
void tls_config_free(struct tls_config *c)
{
	if (!c)
		return;
	if (c->psk_cred)
		gnutls_psk_free_server_credentials(c->psk_cred);
	if (c->x509_cred)
		gnutls_certificate_free_credentials(c->x509_cred);
	if (c->priority)
		gnutls_priority_deinit(c->priority);
	free(c);
}

/* Server handshake over fd. */
struct tls_session *tls_server_start(struct tls_config *c, int fd, struct err *e)
{
	struct tls_session *s = calloc(1, sizeof *s);
	if (!s)
		return err_errno(e, errno, "tls"), NULL;
	int rc = gnutls_init(&s->session, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
	if (rc) {
		free(s);
		return err_set(e, "tls: %s", gnutls_strerror(rc)), NULL;
	}
	gnutls_priority_set(s->session, c->priority);
	if (c->psk)
		rc = gnutls_credentials_set(s->session, GNUTLS_CRD_PSK, c->psk_cred);
	else
		rc = gnutls_credentials_set(s->session, GNUTLS_CRD_CERTIFICATE, c->x509_cred);
	gnutls_transport_set_int(s->session, fd);
	gnutls_handshake_set_timeout(s->session, 10000);
	if (rc == 0) {
		do
			rc = gnutls_handshake(s->session);
		while (rc < 0 && !gnutls_error_is_fatal(rc));
	}
	if (rc < 0) {
		err_set(e, "tls handshake: %s", gnutls_strerror(rc));
		gnutls_deinit(s->session);
		free(s);
		return NULL;
	}
	return s;
}

/* Receive, retrying on interrupts. */
ssize_t tls_recv(struct tls_session *s, void *buf, size_t len)
{
	ssize_t n;
	do
		n = gnutls_record_recv(s->session, buf, len);
	while (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN);
	return n < 0 ? -1 : n;
}

/* Send, retrying on interrupts. */
ssize_t tls_send(struct tls_session *s, const void *buf, size_t len)
{
	ssize_t n;
	do
		n = gnutls_record_send(s->session, buf, len);
	while (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN);
	return n < 0 ? -1 : n;
}

/* Close the TLS layer (without waiting for the peer) and free. */
void tls_session_free(struct tls_session *s)
{
	if (!s)
		return;
	gnutls_bye(s->session, GNUTLS_SHUT_WR);
	gnutls_deinit(s->session);
	free(s);
}

#else /* !MEMSYNC_HAVE_GNUTLS */

/* Built without GnuTLS. */
int tls_available(void)
{
	return 0;
}

/* Unsupported without GnuTLS. */
struct tls_config *tls_config_psk(const char *psk_file, struct err *e)
{
	(void)psk_file;
	return err_set(e, "tls: unsupported: built without GnuTLS"), NULL;
}

/* Unsupported without GnuTLS. */
struct tls_config *tls_config_x509(const char *dir, struct err *e)
{
	(void)dir;
	return err_set(e, "tls: unsupported: built without GnuTLS"), NULL;
}

/* Nothing to free. */
void tls_config_free(struct tls_config *c)
{
	(void)c;
}

/* Unsupported without GnuTLS. */
struct tls_session *tls_server_start(struct tls_config *c, int fd, struct err *e)
{
	(void)c;
	(void)fd;
	return err_set(e, "tls: unsupported: built without GnuTLS"), NULL;
}

/* Never called without a session. */
ssize_t tls_recv(struct tls_session *s, void *buf, size_t len)
{
	(void)s, (void)buf, (void)len;
	return -1;
}

/* Never called without a session. */
ssize_t tls_send(struct tls_session *s, const void *buf, size_t len)
{
	(void)s, (void)buf, (void)len;
	return -1;
}

/* Nothing to free. */
void tls_session_free(struct tls_session *s)
{
	(void)s;
}
#endif
