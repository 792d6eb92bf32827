/*
 * tls.h - TLS sessions on a connected socket (GnuTLS), one wrapper for
 * every protocol of the suite: the NBD server (compatible with nbdkit's
 * and libnbd's TLS) and the delta protocol (both sides).
 *
 * Credentials, either side:
 *   PSK file:   "username:hexkey" lines (psktool -u alice -p FILE), server
 *               side, as nbdkit --tls-psk
 *   PSK key:    one username and its raw key in memory
 *   X.509:      a directory with ca-cert.pem, server-cert.pem and
 *               server-key.pem (nbdkit's and libnbd's names); mutual, each
 *               side also presents its own pair (client-cert.pem,
 *               client-key.pem on the client side) and requires the
 *               peer's, signed by ca-cert.pem
 * Built without GnuTLS, the constructors fail with a clear message.
 * A session may be read by one thread while another writes it.
 */
#ifndef MEMSYNC_TLS_H
#define MEMSYNC_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

struct tls_config;
struct tls_session;

/* What one side presents and accepts (give one kind of credentials). */
struct tls_opts {
	int client;                   /* 1: the side that connects; 0: the server */
	const char *psk_file;         /* server: a psktool file of "user:hexkey" lines */
	const char *psk_user;         /* or one user and its raw key, either side */
	const unsigned char *psk_key;
	size_t psk_len;
	const char *x509_dir;         /* X.509 directory (see above) */
	int x509_mutual;              /* both sides present a certificate and verify the peer's; else
	                               * only the server presents one and the client verifies it */
	int tls13_only;               /* refuse TLS 1.2 and older */
};

/* 1 when built with GnuTLS. */
int tls_available(void);

/* Credentials and priorities of one side. */
struct tls_config *tls_config_new(const struct tls_opts *o, struct err *e);
/* Server credentials from a PSK file (nbdkit's --tls-psk). */
struct tls_config *tls_config_psk(const char *psk_file, struct err *e);
/* Server credentials from an X.509 directory (nbdkit's --tls-certificates). */
struct tls_config *tls_config_x509(const char *dir, struct err *e);
/* Free credentials (after every session using them ended). */
void tls_config_free(struct tls_config *c);

/* Run the handshake of c's side on a connected fd (blocking, 10 s timeout);
 * a failure tells the peer why (an alert) and says it in e. */
struct tls_session *tls_start(struct tls_config *c, int fd, struct err *e);
/* tls_start for a server-side config. */
struct tls_session *tls_server_start(struct tls_config *c, int fd, struct err *e);
/* Receive up to len bytes: > 0 bytes, 0 end of stream, -1 error. */
ssize_t tls_recv(struct tls_session *s, void *buf, size_t len);
/* Send up to len bytes: > 0 bytes sent, -1 error. */
ssize_t tls_send(struct tls_session *s, const void *buf, size_t len);
/* Bytes already decrypted and waiting: a recv returns them without the socket. */
size_t tls_pending(struct tls_session *s);
/* Say in e why the last tls_recv (sending = 0) or tls_send failed; returns -1. */
int tls_session_err(struct tls_session *s, int sending, struct err *e);
/* Say goodbye (best effort) and free the session; the fd stays open. */
void tls_session_free(struct tls_session *s);

#endif
