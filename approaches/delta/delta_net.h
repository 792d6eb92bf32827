/*
 * delta_net.h - a delta protocol connection: TCP with buffered frame
 * writes, frame reads with every cap checked, byte counters.
 */
#ifndef MEMSYNC_DELTA_NET_H
#define MEMSYNC_DELTA_NET_H

#include <stddef.h>
#include <stdint.h>

#include "delta_proto.h"
#include "err.h"
#include "tls.h"

struct delta_conn {
	int fd;
	struct tls_session *tls; /* when TLS is on (approaches/common/tls.h) */
	struct tls_config *tls_cfg;
	uint8_t *wbuf, *rbuf;   /* write buffer, payload buffer of the last frame */
	size_t wlen;
	uint8_t *ibuf;          /* read-ahead: small frames cost one recv per buffer, not two each */
	size_t ibeg, iend;
	uint64_t bytes_out, bytes_in;
};

/* Listen on addr:port (port 0 = any; the chosen port is stored). */
int delta_listen(const char *addr, int *port, struct err *e);
/* Accept one connection, waiting up to timeout_ms (-1 forever); 1 accepted,
 * 0 timed out, -1 error. */
int delta_accept(int lfd, struct delta_conn *c, int timeout_ms, struct err *e);
/* Connect to addr:port, retrying for up to timeout_ms. */
int delta_connect(struct delta_conn *c, const char *addr, int port, int timeout_ms, struct err *e);
/* Take over a connected socket. */
int delta_conn_init(struct delta_conn *c, int fd, struct err *e);
/* Close and free. */
void delta_conn_close(struct delta_conn *c);
/* Queue bytes (flushes as the buffer fills; large pieces go straight out). */
int delta_put(struct delta_conn *c, const void *p, size_t len, struct err *e);
/* Send everything queued. */
int delta_flush(struct delta_conn *c, struct err *e);
/* Receive one frame into m (payload in c->rbuf). An ERROR frame from the
 * peer becomes an error with its text. Timeout in ms (-1 = none). */
int delta_recv(struct delta_conn *c, struct delta_msg *m, int timeout_ms, struct err *e);
/* TLS settings of a connection: a pre-shared key (TLS-PSK, user "memsync")
 * when len > 0, or mutual X.509 when x509_dir is set: the directory holds
 * ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem and
 * client-key.pem (nbdkit's and libnbd's names); each side presents its own
 * certificate and requires the peer's, signed by that CA. */
struct delta_tls {
	unsigned char key[32];
	unsigned len;
	char x509_dir[512];
};
/* 1 when TLS is configured. */
int delta_tls_on(const struct delta_tls *t);
/* 1 when built with GnuTLS. */
int delta_tls_available(void);
/* Check that an X.509 directory has every file a side needs (clear error). */
int delta_tls_check_dir(const char *dir, struct err *e);
/* Run the TLS 1.3 handshake on a connected conn (client or server side). */
int delta_tls_start(struct delta_conn *c, const struct delta_tls *k, int server, struct err *e);

/* Send an ERROR frame with a message (best effort). */
void delta_send_error(struct delta_conn *c, uint32_t code, const char *msg);

#endif
