/*
 * fuzz_nbd_server.c - libFuzzer target for the NBD server's connection
 * state machine (handshake, options, requests, payloads): everything a
 * client can send, fed to a server connection over memory on this thread
 * (nbd_server_serve_memory): the code that serves sockets, without a
 * socket, a thread or a syscall per input.
 *
 * Input: one mode byte, then the client's byte stream.
 *   mode bit 0: 0 inline mode (1 MiB memory backend, batched replies),
 *               1 worker mode (one worker, 64 KiB memory backend split
 *               into 4 KiB server-side chunks, a buffer per request)
 *   mode bit 1: read-only export
 *   mode bit 2: TLS required (PSK; STARTTLS fails at once over memory, so
 *               this covers the refusals before it)
 * Replies are counted and dropped. Besides the sanitizers, every input
 * checks that the server sent its greeting and that the connection is no
 * longer counted once it ended.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend.h"
#include "log.h"
#include "nbd_server_int.h"
#include "tls.h"

#define NMODES 8

static struct nbd_server *servers[NMODES];

/* Make the server for one mode (see above). */
static struct nbd_server *mode_server(int mode, struct backend *inline_b, struct backend *worker_b,
				      struct tls_config *tls, struct err *e)
{
	struct nbd_server_opts o = {.workers = 1, .export_name = "fuzz"};
	o.chunk_size = mode & 1 ? 4096 : 0;
	o.readonly = !!(mode & 2);
	o.tls = mode & 4 ? tls : NULL;
	return nbd_server_new(mode & 1 ? worker_b : inline_b, &o, e);
}

/* Every server for the whole run. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	static const unsigned char key[16] = "fuzz-psk-key-16b";
	struct err e = {0};
	log_verbose = 0;
	struct backend *inline_b = backend_memory_new(1 << 20, &e);
	struct backend *worker_b = inline_b ? backend_memory_new(64 << 10, &e) : NULL;
	struct tls_opts to = {.psk_user = "fuzz", .psk_key = key, .psk_len = sizeof key};
	struct tls_config *tls = NULL;
	if (tls_available() && worker_b)
		tls = tls_config_new(&to, &e);
	for (int m = 0; m < NMODES && worker_b && (tls || !tls_available()); m++) {
		servers[m] = mode_server(m, inline_b, worker_b, tls, &e);
		if (!servers[m])
			break;
	}
	if (!servers[NMODES - 1]) {
		fprintf(stderr, "fuzz setup: %s\n", e.set ? e.msg : "failed");
		abort();
	}
	return 0;
}

/* Serve one client stream. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct nbd_server *s = servers[data[0] % NMODES];
	uint64_t sent = nbd_server_serve_memory(s, data + 1, size - 1);
	if (sent < 18) {
		fprintf(stderr, "the server sent %llu bytes, less than its greeting\n", (unsigned long long)sent);
		abort();
	}
	if (atomic_load(&s->connections_active) || atomic_load(&s->open_conns)) {
		fprintf(stderr, "a finished connection is still counted\n");
		abort();
	}
	return 0;
}
