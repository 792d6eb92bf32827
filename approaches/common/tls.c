/* tls.c - GnuTLS sessions for the NBD server and the delta protocol (see tls.h). */
#include "tls.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef MEMSYNC_HAVE_GNUTLS
#include <gnutls/gnutls.h>

#define HANDSHAKE_TIMEOUT_MS 10000

struct tls_config {
	int client;
	int psk;                                  /* PSK, else X.509 */
	int verify;                               /* check the peer's certificate against the CA */
	int require_cert;                         /* server: the client must present one */
	char *psk_user;                           /* PSK key in memory: its one user ... */
	unsigned char *psk_key;                   /* ... and the key */
	size_t psk_len;
	gnutls_psk_server_credentials_t psk_server;
	gnutls_psk_client_credentials_t psk_client;
	gnutls_certificate_credentials_t x509;
	gnutls_priority_t priority;
};

struct tls_session {
	gnutls_session_t session;
	int recv_rc, send_rc;                     /* why the last recv / send failed */
};

/* Built with GnuTLS. */
int tls_available(void)
{
	return 1;
}

/* Server side: the key of the one user a config knows. */
static int psk_lookup(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
	const struct tls_config *c = gnutls_session_get_ptr(s);
	if (strcmp(user, c->psk_user))
		return -1;
	key->data = gnutls_malloc(c->psk_len);
	if (!key->data)
		return -1;
	memcpy(key->data, c->psk_key, c->psk_len);
	key->size = (unsigned)c->psk_len;
	return 0;
}

/* PSK credentials: a psktool file (server), or one user's key (either side). */
static int config_psk(struct tls_config *c, const struct tls_opts *o, struct err *e)
{
	int rc;
	c->psk = 1;
	if (o->psk_file) {
		if (c->client)
			return err_set(e, "tls: a PSK file is for the server side; a client gives one user's key");
		if (access(o->psk_file, R_OK))
			return err_errno(e, errno, "tls: PSK file %s", o->psk_file);
		rc = gnutls_psk_allocate_server_credentials(&c->psk_server);
		if (rc == 0)
			rc = gnutls_psk_set_server_credentials_file(c->psk_server, o->psk_file);
		return rc ? err_set(e, "tls: PSK file %s: %s", o->psk_file, gnutls_strerror(rc)) : 0;
	}
	if (!o->psk_key || !o->psk_len || o->psk_len > UINT16_MAX)
		return err_set(e, "tls: no PSK key (or longer than %u bytes)", UINT16_MAX);
	c->psk_user = strdup(o->psk_user);
	c->psk_key = malloc(o->psk_len);
	if (!c->psk_user || !c->psk_key)
		return err_errno(e, ENOMEM, "tls");
	memcpy(c->psk_key, o->psk_key, o->psk_len);
	c->psk_len = o->psk_len;
	if (c->client) {
		gnutls_datum_t key = {c->psk_key, (unsigned)c->psk_len};
		rc = gnutls_psk_allocate_client_credentials(&c->psk_client);
		if (rc == 0)
			rc = gnutls_psk_set_client_credentials(c->psk_client, c->psk_user, &key, GNUTLS_PSK_KEY_RAW);
	} else {
		rc = gnutls_psk_allocate_server_credentials(&c->psk_server);
		if (rc == 0)
			gnutls_psk_set_server_credentials_function(c->psk_server, psk_lookup);
	}
	return rc ? err_set(e, "tls: PSK credentials: %s", gnutls_strerror(rc)) : 0;
}

/* X.509 credentials from dir: the CA (to verify the peer: required then,
 * optional for a server that verifies nobody) and this side's own pair. */
static int config_x509(struct tls_config *c, const struct tls_opts *o, struct err *e)
{
	const char *dir = o->x509_dir, *side = c->client ? "client" : "server";
	char ca[4096], cert[4096], key[4096];
	snprintf(ca, sizeof ca, "%s/ca-cert.pem", dir);
	snprintf(cert, sizeof cert, "%s/%s-cert.pem", dir, side);
	snprintf(key, sizeof key, "%s/%s-key.pem", dir, side);
	c->verify = c->client || o->x509_mutual;
	c->require_cert = !c->client && o->x509_mutual;
	int rc = gnutls_certificate_allocate_credentials(&c->x509);
	if (rc)
		return err_set(e, "tls: %s", gnutls_strerror(rc));
	if (c->verify || access(ca, R_OK) == 0) {
		rc = gnutls_certificate_set_x509_trust_file(c->x509, ca, GNUTLS_X509_FMT_PEM);
		if (rc < 0 || (rc == 0 && c->verify))
			return err_set(e, "TLS: no CA certificate loaded from %s: %s", ca, rc ? gnutls_strerror(rc) : "empty");
	}
	if (c->client && !o->x509_mutual)
		return 0;
	rc = gnutls_certificate_set_x509_key_file(c->x509, cert, key, GNUTLS_X509_FMT_PEM);
	if (rc)
		return err_set(e, "TLS: cannot load %s with %s: %s", cert, key, gnutls_strerror(rc));
	return 0;
}

/* The priority string for a config: nbdkit's for PSK, TLS 1.3 only if asked. */
static const char *config_priority(const struct tls_config *c, int tls13_only)
{
	if (c->psk)
		return tls13_only ? "NORMAL:-VERS-ALL:+VERS-TLS1.3:+ECDHE-PSK:+PSK" : "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK";
	return tls13_only ? "NORMAL:-VERS-ALL:+VERS-TLS1.3" : "NORMAL";
}

/* Credentials and priorities of one side. */
struct tls_config *tls_config_new(const struct tls_opts *o, struct err *e)
{
	if (!o->psk_file + !o->psk_user + !o->x509_dir != 2)
		return err_set(e, "tls: give one of a PSK file, a PSK user and key, or an X.509 directory"), NULL;
	struct tls_config *c = calloc(1, sizeof *c);
	if (!c)
		return err_errno(e, errno, "tls"), NULL;
	c->client = o->client;
	int rc = o->x509_dir ? config_x509(c, o, e) : config_psk(c, o, e);
	if (rc == 0) {
		int prc = gnutls_priority_init(&c->priority, config_priority(c, o->tls13_only), NULL);
		if (prc)
			rc = err_set(e, "tls: priorities: %s", gnutls_strerror(prc));
	}
	if (rc) {
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
	if (c->psk_server)
		gnutls_psk_free_server_credentials(c->psk_server);
	if (c->psk_client)
		gnutls_psk_free_client_credentials(c->psk_client);
	if (c->x509)
		gnutls_certificate_free_credentials(c->x509);
	if (c->priority)
		gnutls_priority_deinit(c->priority);
	free(c->psk_user);
	free(c->psk_key);
	free(c);
}

/* Set up a session of c's side on fd (before the handshake). */
static int session_setup(struct tls_session *s, struct tls_config *c, int fd)
{
	gnutls_session_t g = s->session;
	int rc = gnutls_priority_set(g, c->priority);
	gnutls_session_set_ptr(g, c);
	if (rc == 0 && c->psk)
		rc = c->client ? gnutls_credentials_set(g, GNUTLS_CRD_PSK, c->psk_client)
			       : gnutls_credentials_set(g, GNUTLS_CRD_PSK, c->psk_server);
	else if (rc == 0)
		rc = gnutls_credentials_set(g, GNUTLS_CRD_CERTIFICATE, c->x509);
	if (c->require_cert)
		gnutls_certificate_server_set_request(g, GNUTLS_CERT_REQUIRE);
	if (c->verify)
		gnutls_session_set_verify_cert(g, NULL, 0); /* the chain against the CA; no host name */
	gnutls_transport_set_int(g, fd);
	gnutls_handshake_set_timeout(g, HANDSHAKE_TIMEOUT_MS);
	return rc;
}

/* Say why a handshake failed, naming a refused certificate's problem. */
static int handshake_error(gnutls_session_t g, int rc, struct err *e)
{
	unsigned status = rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR ? gnutls_session_get_verify_cert_status(g) : 0;
	gnutls_datum_t why = {0};
	if (status && gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0) == 0) {
		err_set(e, "TLS handshake failed: the peer's certificate: %s", why.data);
		gnutls_free(why.data);
		return -1;
	}
	return err_set(e, "TLS handshake failed: %s", gnutls_strerror(rc));
}

/* Handshake over fd. */
struct tls_session *tls_start(struct tls_config *c, int fd, struct err *e)
{
	if (fd < 0) /* a connection over memory (the fuzz target): GnuTLS would wait out its timeout */
		return err_set(e, "tls: no socket to run TLS on"), NULL;
	struct tls_session *s = calloc(1, sizeof *s);
	if (!s)
		return err_errno(e, errno, "tls"), NULL;
	int rc = gnutls_init(&s->session, (c->client ? GNUTLS_CLIENT : GNUTLS_SERVER) | GNUTLS_NO_SIGNAL);
	if (rc) {
		free(s);
		return err_set(e, "tls: %s", gnutls_strerror(rc)), NULL;
	}
	rc = session_setup(s, c, fd);
	if (rc) {
		err_set(e, "tls: %s", gnutls_strerror(rc));
		goto fail;
	}
	do
		rc = gnutls_handshake(s->session);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		gnutls_alert_send_appropriate(s->session, rc); /* tell the peer why */
		handshake_error(s->session, rc, e);
		goto fail;
	}
	return s;
fail:
	gnutls_deinit(s->session);
	free(s);
	return NULL;
}

/* Server side handshake. */
struct tls_session *tls_server_start(struct tls_config *c, int fd, struct err *e)
{
	if (c->client)
		return err_set(e, "tls: a client-side config for a server"), NULL;
	return tls_start(c, fd, e);
}

/* Receive, retrying on interrupts. */
ssize_t tls_recv(struct tls_session *s, void *buf, size_t len)
{
	ssize_t n;
	do
		n = gnutls_record_recv(s->session, buf, len);
	while (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN);
	if (n < 0)
		s->recv_rc = (int)n;
	return n < 0 ? -1 : n;
}

/* Send, retrying on interrupts. */
ssize_t tls_send(struct tls_session *s, const void *buf, size_t len)
{
	ssize_t n;
	do
		n = gnutls_record_send(s->session, buf, len);
	while (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN);
	if (n < 0)
		s->send_rc = (int)n;
	return n < 0 ? -1 : n;
}

/* Decrypted bytes waiting. */
size_t tls_pending(struct tls_session *s)
{
	return gnutls_record_check_pending(s->session);
}

/* Why the last recv or send failed. */
int tls_session_err(struct tls_session *s, int sending, struct err *e)
{
	int rc = sending ? s->send_rc : s->recv_rc;
	if (!sending && rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
		return err_set(e, "TLS: the peer sent the alert '%s' (a refused certificate?)",
			       gnutls_alert_get_name(gnutls_alert_get(s->session)));
	return err_set(e, "TLS %s failed: %s", sending ? "send" : "receive", gnutls_strerror(rc));
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
struct tls_config *tls_config_new(const struct tls_opts *o, struct err *e)
{
	(void)o;
	return err_set(e, "tls: unsupported: built without GnuTLS"), NULL;
}

/* Nothing to free. */
void tls_config_free(struct tls_config *c)
{
	(void)c;
}

/* Unsupported without GnuTLS. */
struct tls_session *tls_start(struct tls_config *c, int fd, struct err *e)
{
	(void)c, (void)fd;
	return err_set(e, "tls: unsupported: built without GnuTLS"), NULL;
}

/* Unsupported without GnuTLS. */
struct tls_session *tls_server_start(struct tls_config *c, int fd, struct err *e)
{
	return tls_start(c, fd, e);
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

/* Never called without a session. */
size_t tls_pending(struct tls_session *s)
{
	(void)s;
	return 0;
}

/* Never called without a session. */
int tls_session_err(struct tls_session *s, int sending, struct err *e)
{
	(void)s, (void)sending;
	return err_set(e, "tls: unsupported: built without GnuTLS");
}

/* Nothing to free. */
void tls_session_free(struct tls_session *s)
{
	(void)s;
}
#endif

/* Server credentials from a PSK file. */
struct tls_config *tls_config_psk(const char *psk_file, struct err *e)
{
	struct tls_opts o = {.psk_file = psk_file};
	return tls_config_new(&o, e);
}

/* Server credentials from an X.509 directory. */
struct tls_config *tls_config_x509(const char *dir, struct err *e)
{
	struct tls_opts o = {.x509_dir = dir};
	return tls_config_new(&o, e);
}
