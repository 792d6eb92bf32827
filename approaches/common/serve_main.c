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
		"  --backend SPEC      memory:SIZE | file:PATH[:SIZE] | dir:PATH:SIZE[:chunk=N] | remote:URI\n"
		"                      (default memory:64M)\n"
		"  --workers N         threads per connection (default: 1 = batched inline mode for memory, else 8)\n"
		"  --tls-psk FILE      require TLS with PSK keys (\"user:hexkey\" lines, psktool format)\n"
		"  --tls-x509 DIR      require TLS with DIR/{ca-cert,server-cert,server-key}.pem\n"
		"  --readonly          refuse writes\n"
		"  --export NAME       only serve this export name (and the default \"\")\n"
		"  --chunk SIZE        split backend calls into aligned SIZE chunks (server-side chunking)\n"
		"  --notsent-lowat SIZE  TCP_NOTSENT_LOWAT: unsent reply bytes the kernel holds per connection\n"
		"                      (default 1M; off = the kernel's default, unlimited)\n"
		"  --stats-json FILE   append counters as a JSON line on SIGUSR1 and at exit (- = stdout)\n"
		"  --ready-fd N        when listening, write the TCP port (or 0) and a newline to fd N and close it\n"
		"  -v, --verbose       log debug lines too (such as every connection that closes)\n"
		"  -q, --quiet         log warnings only (by default also the start line, clients dropped\n"
		"                      for bad input and requests answered with an error)\n"
		"  -h, --help          print this help\n");
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

/* What the command line asks for. */
struct serve_args {
	const char *listen_addr, *unix_path, *spec;
	const char *psk, *x509, *stats_path;
	const char *workers_arg;  /* as given, for the start line */
	int ready_fd;
	struct nbd_server_opts o;
};

/* --workers N: 0 (auto) to 256. */
static int parse_workers(struct serve_args *a, const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);
	if (end == arg || *end || n < 0 || n > 256) {
		fprintf(stderr, "memsync-serve: --workers: '%s' is not a number from 0 (auto) to 256\n", arg);
		return -1;
	}
	a->o.workers = (int)n;
	a->workers_arg = arg;
	return 0;
}

/* --notsent-lowat SIZE|off. */
static int parse_lowat(struct serve_args *a, const char *arg)
{
	struct err e = {0};
	uint64_t v;
	if (!strcmp(arg, "off")) {
		a->o.notsent_lowat = -1;
		return 0;
	}
	if (parse_size(arg, &v, &e) || v == 0 || v > INT32_MAX) {
		fprintf(stderr, "memsync-serve: --notsent-lowat: '%s': %s\n", arg, e.set ? e.msg : "give 1 byte to 2 GiB, or off");
		return -1;
	}
	a->o.notsent_lowat = (int64_t)v;
	return 0;
}

/* Parse the command line: 0 to serve, 1 for a usage error, 2 after --help. */
static int parse_args(int argc, char **argv, struct serve_args *a)
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
	struct err e = {0};
	int c;
	*a = (struct serve_args){.listen_addr = "127.0.0.1:10809", .spec = "memory:64M", .workers_arg = "auto",
				 .ready_fd = -1};
	while ((c = getopt_long(argc, argv, "l:U:b:w:rhvq", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': a->listen_addr = optarg; break;
		case 'U': a->unix_path = optarg; break;
		case 'b': a->spec = optarg; break;
		case 'w': if (parse_workers(a, optarg)) return 1; break;
		case 'L': if (parse_lowat(a, optarg)) return 1; break;
		case 'P': a->psk = optarg; break;
		case 'X': a->x509 = optarg; break;
		case 'r': a->o.readonly = 1; break;
		case 'e': a->o.export_name = optarg; break;
		case 'c':
			if (parse_size(optarg, &a->o.chunk_size, &e)) {
				fprintf(stderr, "memsync-serve: --chunk: %s\n", e.msg);
				return 1;
			}
			break;
		case 'S': a->stats_path = optarg; break;
		case 'R': a->ready_fd = atoi(optarg); break;
		case 'v': log_verbose = 2; break;
		case 'q': log_verbose = 0; break;
		case 'h': usage(stdout); return 2;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc || (a->psk && a->x509)) {
		usage(stderr);
		return 1;
	}
	return 0;
}

/* Listen where the arguments say: a UNIX socket, or HOST:PORT ([::1]:PORT). */
static int serve_listen(struct nbd_server *s, const struct serve_args *a, struct err *e)
{
	if (a->unix_path)
		return nbd_server_listen(s, NULL, a->unix_path, e);
	char host[256];
	const char *colon = strrchr(a->listen_addr, ':');
	if (!colon || (size_t)(colon - a->listen_addr) >= sizeof host)
		return err_set(e, "--listen wants HOST:PORT, got '%s'", a->listen_addr);
	memcpy(host, a->listen_addr, (size_t)(colon - a->listen_addr));
	host[colon - a->listen_addr] = '\0';
	char *h = host;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	return nbd_server_listen(s, h, colon + 1, e);
}

/* Serve until SIGINT/SIGTERM; SIGUSR1 writes the counters. */
static void serve_wait(struct nbd_server *s, const sigset_t *set, const char *stats_path)
{
	for (;;) {
		int sig;
		if (sigwait(set, &sig))
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
}

/* Parse arguments, serve, wait for signals. */
int main(int argc, char **argv)
{
	struct serve_args a;
	struct err e = {0};
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc == 2 ? 0 : 1;

	/* Signals are taken synchronously by this thread only. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct backend *b = backend_open(a.spec, &e);
	struct nbd_server *s = NULL;
	if (b && (a.psk || a.x509))
		a.o.tls = a.psk ? tls_config_psk(a.psk, &e) : tls_config_x509(a.x509, &e);
	if (b && (a.o.tls || !(a.psk || a.x509)))
		s = nbd_server_new(b, &a.o, &e);
	if (!s || serve_listen(s, &a, &e)) {
		fprintf(stderr, "memsync-serve: %s\n", e.msg);
		nbd_server_free(s);
		tls_config_free(a.o.tls);
		backend_close(b);
		return 1;
	}
	log_info("serving %s on %s%s (port %d, %s workers/connection%s)", b->spec, a.unix_path ? "unix:" : "",
		 a.unix_path ? a.unix_path : a.listen_addr, nbd_server_port(s), a.o.workers ? a.workers_arg : "auto",
		 a.o.tls ? ", TLS" : "");
	if (a.ready_fd >= 0) {
		dprintf(a.ready_fd, "%d\n", a.unix_path ? 0 : nbd_server_port(s));
		close(a.ready_fd);
	}
	serve_wait(s, &set, a.stats_path);
	nbd_server_free(s);
	tls_config_free(a.o.tls);
	backend_close(b);
	return 0;
}
