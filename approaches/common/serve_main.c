/*
 * serve_main.c - memsync-serve: the region server daemon. Serves one
 * backend over NBD on TCP or a UNIX socket until SIGINT/SIGTERM; prints
 * the server's counters as one JSON line on SIGUSR1 and at exit when
 * --stats-json is given.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "nbd_server.h"
#include "tls.h"
#include "units.h"

/* Print usage to f. */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: memsync-serve [--listen HOST:PORT | --unix PATH] [--backend SPEC] [--workers N]\n"
		"                     [--tls-psk FILE | --tls-x509 DIR] [--readonly] [--export NAME]\n"
		"                     [--chunk SIZE] [--notsent-lowat SIZE|off] [--stats-json FILE|-]\n"
		"                     [--ready-fd N] [-v|-q]\n"
		"Serve a memory region over NBD (fixed newstyle).\n"
		"  --listen HOST:PORT  TCP address (default 127.0.0.1:10809; port 0 picks one)\n"
		"  --unix PATH         listen on a UNIX socket instead\n"
		"  --backend SPEC      memory:SIZE | file:PATH[:SIZE] | dir:PATH:SIZE[:chunk=N] (default memory:64M)\n"
		"  --workers N         threads per connection (default: 1 = batched inline mode for memory, else 8)\n"
		"  --tls-psk FILE      require TLS with PSK keys (\"user:hexkey\" lines, psktool format)\n"
		"  --tls-x509 DIR      require TLS with DIR/{ca-cert,server-cert,server-key}.pem\n"
		"  --readonly          refuse writes\n"
		"  --export NAME       only serve this export name (and the default \"\")\n"
		"  --chunk SIZE        split backend calls into aligned SIZE chunks (server-side chunking)\n"
		"  --notsent-lowat SIZE  TCP_NOTSENT_LOWAT: unsent reply bytes the kernel holds per connection\n"
		"                      (default 1M; off = the kernel's default, unlimited)\n"
		"  --stats-json FILE   append counters as a JSON line on SIGUSR1 and at exit (- = stdout)\n"
		"  --ready-fd N        when listening, write the TCP port (or 0) and a newline to fd N and close it\n");
}

/* Append one stats line to path ("-" = stdout). */
static void write_stats(struct nbd_server *s, const char *path)
{
	struct nbd_server_stats st;
	char line[1024];
	nbd_server_stats(s, &st);
	nbd_server_stats_json(&st, line, sizeof line);
	FILE *f = strcmp(path, "-") ? fopen(path, "a") : stdout;
	if (!f) {
		log_warn("cannot open %s: %s", path, strerror(errno));
		return;
	}
	fprintf(f, "%s\n", line);
	if (f != stdout)
		fclose(f);
	else
		fflush(f);
}

/* Parse arguments, serve, wait for signals. */
int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'}, {"unix", required_argument, NULL, 'U'},
		{"backend", required_argument, NULL, 'b'}, {"workers", required_argument, NULL, 'w'},
		{"tls-psk", required_argument, NULL, 'P'}, {"tls-x509", required_argument, NULL, 'X'},
		{"readonly", no_argument, NULL, 'r'}, {"export", required_argument, NULL, 'e'},
		{"chunk", required_argument, NULL, 'c'}, {"stats-json", required_argument, NULL, 'S'},
		{"ready-fd", required_argument, NULL, 'R'}, {"help", no_argument, NULL, 'h'},
		{"notsent-lowat", required_argument, NULL, 'L'},
		{"verbose", no_argument, NULL, 'v'}, {"quiet", no_argument, NULL, 'q'}, {0},
	};
	const char *listen_addr = "127.0.0.1:10809", *unix_path = NULL, *spec = "memory:64M";
	const char *psk = NULL, *x509 = NULL, *stats_path = NULL;
	struct nbd_server_opts o = {0};
	int ready_fd = -1, c;
	const char *optarg_workers = "auto";
	struct err e = {0};

	while ((c = getopt_long(argc, argv, "l:U:b:w:rhvq", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_addr = optarg; break;
		case 'U': unix_path = optarg; break;
		case 'b': spec = optarg; break;
		case 'w': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (end == optarg || *end || n < 0 || n > 256) {
				fprintf(stderr, "memsync-serve: --workers: '%s' is not a number from 0 (auto) to 256\n", optarg);
				return 1;
			}
			o.workers = (int)n;
			optarg_workers = optarg;
			break;
		}
		case 'L': {
			uint64_t v;
			if (!strcmp(optarg, "off")) {
				o.notsent_lowat = -1;
				break;
			}
			if (parse_size(optarg, &v, &e) || v == 0 || v > INT32_MAX) {
				fprintf(stderr, "memsync-serve: --notsent-lowat: '%s': %s\n", optarg,
					e.set ? e.msg : "give 1 byte to 2 GiB, or off");
				return 1;
			}
			o.notsent_lowat = (int64_t)v;
			break;
		}
		case 'P': psk = optarg; break;
		case 'X': x509 = optarg; break;
		case 'r': o.readonly = 1; break;
		case 'e': o.export_name = optarg; break;
		case 'c':
			if (parse_size(optarg, &o.chunk_size, &e)) {
				fprintf(stderr, "memsync-serve: --chunk: %s\n", e.msg);
				return 1;
			}
			break;
		case 'S': stats_path = optarg; break;
		case 'R': ready_fd = atoi(optarg); break;
		case 'v': log_verbose = 2; break;
		case 'q': log_verbose = 0; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc || (psk && x509)) {
		usage(stderr);
		return 1;
	}

	/* Signals are taken synchronously by this thread only. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct backend *b = backend_open(spec, &e);
	if (!b) {
		fprintf(stderr, "memsync-serve: %s\n", e.msg);
		return 1;
	}
	if (psk || x509) {
		o.tls = psk ? tls_config_psk(psk, &e) : tls_config_x509(x509, &e);
		if (!o.tls) {
			fprintf(stderr, "memsync-serve: %s\n", e.msg);
			backend_close(b);
			return 1;
		}
	}
	struct nbd_server *s = nbd_server_new(b, &o, &e);
	int rc = -1;
	if (s) {
		if (unix_path) {
			rc = nbd_server_listen(s, NULL, unix_path, &e);
		} else {
			char host[256];
			const char *colon = strrchr(listen_addr, ':');
			if (!colon || (size_t)(colon - listen_addr) >= sizeof host) {
				err_set(&e, "--listen wants HOST:PORT, got '%s'", listen_addr);
			} else {
				memcpy(host, listen_addr, (size_t)(colon - listen_addr));
				host[colon - listen_addr] = '\0';
				char *h = host;
				if (h[0] == '[' && h[strlen(h) - 1] == ']') { /* [::1]:port */
					h[strlen(h) - 1] = '\0';
					h++;
				}
				rc = nbd_server_listen(s, h, colon + 1, &e);
			}
		}
	}
	if (rc) {
		fprintf(stderr, "memsync-serve: %s\n", e.msg);
		nbd_server_free(s);
		tls_config_free(o.tls);
		backend_close(b);
		return 1;
	}
	log_info("serving %s on %s%s (port %d, %s workers/connection%s)", b->spec, unix_path ? "unix:" : "",
		 unix_path ? unix_path : listen_addr, nbd_server_port(s), o.workers ? optarg_workers : "auto",
		 o.tls ? ", TLS" : "");
	if (ready_fd >= 0) {
		dprintf(ready_fd, "%d\n", unix_path ? 0 : nbd_server_port(s));
		close(ready_fd);
	}
	for (;;) {
		int sig;
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGUSR1) {
			write_stats(s, stats_path ? stats_path : "-");
			continue;
		}
		if (sig == SIGHUP)
			continue;
		break;
	}
	if (stats_path)
		write_stats(s, stats_path);
	nbd_server_free(s);
	tls_config_free(o.tls);
	backend_close(b);
	return 0;
}
