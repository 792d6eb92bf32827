/*
 * fuzz_nbd_server.c - libFuzzer target: the input is everything a client
 * sends (handshake, options, transmission requests and payloads), fed to a
 * real server connection over a socketpair with a 1 MiB memory backend
 * (odd-sized inputs: worker-pool mode; even-sized: inline mode).
 * Replies are drained and discarded; the sanitizers and the server's own
 * range checks catch the bugs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "nbd_server.h"

static struct backend *backend;
static struct nbd_server *pool_server;   /* 2 workers per connection */
static struct nbd_server *inline_server; /* 1 thread, batched I/O */

/* One server for the whole run. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct err e = {0};
	log_verbose = 0;
	backend = backend_memory_new(1 << 20, &e);
	struct nbd_server_opts o = {.workers = 2, .export_name = "fuzz"};
	pool_server = backend ? nbd_server_new(backend, &o, &e) : NULL;
	o.workers = 1;
	inline_server = pool_server ? nbd_server_new(backend, &o, &e) : NULL;
	if (!inline_server) {
		fprintf(stderr, "fuzz setup: %s\n", e.msg);
		abort();
	}
	return 0;
}

/* Send data as one client connection, drain replies until the server closes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	struct err e = {0};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	/* Odd-sized inputs exercise the worker pool, even-sized ones inline mode. */
	struct nbd_server *server = size % 2 ? pool_server : inline_server;
	if (nbd_server_serve_fd(server, sv[0], &e)) {
		close(sv[1]);
		return 0;
	}
	int fd = sv[1];
	fcntl(fd, F_SETFL, O_NONBLOCK);
	size_t sent = 0;
	int write_open = 1;
	static unsigned char sink[1 << 16];
	for (;;) {
		if (write_open && sent == size) {
			shutdown(fd, SHUT_WR);
			write_open = 0;
		}
		struct pollfd p = {fd, (short)(POLLIN | (write_open ? POLLOUT : 0)), 0};
		int rc = poll(&p, 1, 30000);
		if (rc < 0 && errno == EINTR)
			continue; /* libFuzzer's timer signal */
		if (rc <= 0) {
			fprintf(stderr, "server did not answer or close for 30 s (sent %zu of %zu bytes)\n", sent, size);
			abort(); /* the server hung */
		}
		if (p.revents & POLLIN) {
			ssize_t n = recv(fd, sink, sizeof sink, 0);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
		}
		if (write_open && (p.revents & POLLOUT)) {
			ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				write_open = 0; /* server closed its side early */
		}
		if (p.revents & (POLLHUP | POLLERR) && !(p.revents & POLLIN))
			break;
	}
	close(fd);
	return 0;
}
