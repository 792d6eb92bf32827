/*
 * tls.h - server side TLS for the NBD server (GnuTLS), compatible with
 * nbdkit's and libnbd's TLS:
 *   PSK:   a file of "username:hexkey" lines (psktool -u alice -p FILE)
 *   X.509: a directory with ca-cert.pem, server-cert.pem, server-key.pem
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

/* 1 when built with GnuTLS. */
int tls_available(void);

/* Server credentials from a PSK file. */
struct tls_config *tls_config_psk(const char *psk_file, struct err *e);
/* Server credentials from an X.509 directory. */
struct tls_config *tls_config_x509(const char *dir, struct err *e);
/* Free credentials (after every session using them ended). */
void tls_config_free(struct tls_config *c);

/* Run the server handshake on a connected fd (blocking, 10 s timeout). */
struct tls_session *tls_server_start(struct tls_config *c, int fd, struct err *e);
/* Receive up to len bytes: > 0 bytes, 0 end of stream, -1 error. */
ssize_t tls_recv(struct tls_session *s, void *buf, size_t len);
/* Send up to len bytes: > 0 bytes sent, -1 error. */
ssize_t tls_send(struct tls_session *s, const void *buf, size_t len);
/* Say goodbye (best effort) and free the session; the fd stays open. */
void tls_session_free(struct tls_session *s);

#endif
