/*
 * test_remote_tls.c - the suite's TLS wrapper (approaches/common/tls.c)
 * with both sides in this process over a socketpair: a PSK key in memory,
 * TLS 1.3 only and not, data both ways (with bytes left pending), a wrong
 * key failing on both sides with a message, and the argument checks.
 * X.509 (one-way and mutual) is covered by tests/test-remote-interop.sh
 * and the delta TLS tests, which make certificates with certtool.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "tls.h"

/* One side of a handshake run on its own thread. */
struct side {
	struct tls_config *cfg;
	int fd;
	struct tls_session *s;
	struct err e;
};

/* Thread body: the server's handshake. */
static void *server_run(void *arg)
{
	struct side *sd = arg;
	sd->s = tls_start(sd->cfg, sd->fd, &sd->e);
	return NULL;
}

/* Handshake both sides over a fresh socketpair; fds returned for closing. */
static void handshake(struct side *srv, struct side *cli, int fds[2])
{
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
	srv->fd = fds[0];
	cli->fd = fds[1];
	pthread_t t;
	CHECK(pthread_create(&t, NULL, server_run, srv) == 0);
	cli->s = tls_start(cli->cfg, cli->fd, &cli->e);
	if (!cli->s)
		shutdown(cli->fd, SHUT_RDWR); /* let a server still waiting for us fail */
	pthread_join(t, NULL);
}

/* Free both sides and close the socketpair. */
static void teardown(struct side *srv, struct side *cli, int fds[2])
{
	tls_session_free(srv->s);
	tls_session_free(cli->s);
	tls_config_free(srv->cfg);
	tls_config_free(cli->cfg);
	close(fds[0]);
	close(fds[1]);
}

/* A PSK config of one side. */
static struct tls_config *psk_config(int client, const char *key, int tls13)
{
	struct err e = {0};
	struct tls_opts o = {.client = client, .psk_user = "memsync", .psk_key = (const unsigned char *)key,
			     .psk_len = strlen(key), .tls13_only = tls13};
	struct tls_config *c = tls_config_new(&o, &e);
	if (!c)
		fprintf(stderr, "%s\n", e.msg);
	return c;
}

/* Both sides agree on a key: data flows both ways, intact. */
static void test_psk_round_trip(int tls13)
{
	struct side srv = {.cfg = psk_config(0, "0123456789abcdef", tls13)};
	struct side cli = {.cfg = psk_config(1, "0123456789abcdef", tls13)};
	int fds[2];
	CHECK(srv.cfg && cli.cfg);
	handshake(&srv, &cli, fds);
	CHECK(srv.s && cli.s);
	if (srv.s && cli.s) {
		char buf[64] = {0};
		CHECK(tls_send(cli.s, "hello over tls", 14) == 14);
		CHECK(tls_recv(srv.s, buf, 5) == 5 && !memcmp(buf, "hello", 5));
		CHECK(tls_pending(srv.s) == 9); /* the rest of the record waits, decrypted */
		CHECK(tls_recv(srv.s, buf, sizeof buf) == 9 && !memcmp(buf, " over tls", 9));
		CHECK(tls_send(srv.s, "back", 4) == 4);
		CHECK(tls_recv(cli.s, buf, sizeof buf) == 4 && !memcmp(buf, "back", 4));
		tls_session_free(cli.s); /* says goodbye: the server reads the end of the stream */
		cli.s = NULL;
		CHECK(tls_recv(srv.s, buf, sizeof buf) == 0);
	}
	teardown(&srv, &cli, fds);
}

/* Different keys: no session on either side, and each says why. */
static void test_psk_wrong_key(void)
{
	struct side srv = {.cfg = psk_config(0, "0123456789abcdef", 1)};
	struct side cli = {.cfg = psk_config(1, "fedcba9876543210", 1)};
	int fds[2];
	handshake(&srv, &cli, fds);
	CHECK(!srv.s && !cli.s);
	CHECK(strstr(srv.e.msg, "TLS handshake failed") != NULL);
	CHECK(strstr(cli.e.msg, "TLS") != NULL);
	teardown(&srv, &cli, fds);
}

/* Configs that make no sense are refused with a message. */
static void test_bad_configs(void)
{
	struct err e = {0};
	struct tls_opts none = {0};
	CHECK(tls_config_new(&none, &e) == NULL && e.set);
	err_clear(&e);
	struct tls_opts two = {.psk_file = "/nonexistent", .x509_dir = "/nonexistent"};
	CHECK(tls_config_new(&two, &e) == NULL && e.set);
	err_clear(&e);
	struct tls_opts client_file = {.client = 1, .psk_file = "/etc/hostname"};
	CHECK(tls_config_new(&client_file, &e) == NULL && strstr(e.msg, "server side"));
	err_clear(&e);
	CHECK(tls_config_psk("/nonexistent/keys.psk", &e) == NULL && strstr(e.msg, "/nonexistent/keys.psk"));
	err_clear(&e);
	CHECK(tls_config_x509("/nonexistent", &e) == NULL && strstr(e.msg, "/nonexistent/server-cert.pem"));
	struct tls_config *cli = psk_config(1, "0123456789abcdef", 1);
	err_clear(&e);
	CHECK(tls_server_start(cli, 0, &e) == NULL && strstr(e.msg, "client-side"));
	err_clear(&e);
	CHECK(tls_start(cli, -1, &e) == NULL && strstr(e.msg, "no socket"));
	tls_config_free(cli);
}

/* Run all tests (all but the argument checks need GnuTLS). */
int main(void)
{
	if (!tls_available()) {
		struct err e = {0};
		struct tls_opts o = {.psk_file = "/x"};
		CHECK(tls_config_new(&o, &e) == NULL && strstr(e.msg, "without GnuTLS"));
		return check_done();
	}
	test_psk_round_trip(1);
	test_psk_round_trip(0);
	test_psk_wrong_key();
	test_bad_configs();
	return check_done();
}
