/*
 * net_main.c - memsync-net, the command line of the netem component, for
 * shell scripts and benchmarks: bring a topology up and down, read its
 * counters, validate and list profiles, clean up after crashed runs, and a
 * tiny TCP echo/RTT probe for hosts without ping.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "cmd.h"
#include "netem/ceiling.h"
#include "record.h"
#include "netem/profile.h"
#include "netem/topology.h"

#define EXIT_USAGE 2
#define EXIT_SKIP 77
#define ECHO_MSG_SIZE 64
#define DOWN_TIMEOUT_NS 20000000000ULL

static const char usage_text[] =
	"usage: memsync-net COMMAND [OPTIONS]\n"
	"\n"
	"Emulated networks for memsync: hosts are network namespaces ms<pid>-h<i>\n"
	"with addresses 198.18.0.<i+1>; every pair of hosts talks through a link\n"
	"that applies a profile (netem/profiles/<name>.conf) in each direction,\n"
	"so the RTT between two hosts is 2 x the profile's delay.\n"
	"\n"
	"commands:\n"
	"  up --profile NAME|FILE [--hosts 2|3] [--driver auto|tc|user|none] --state FILE\n"
	"        create the hosts and links; a background process keeps them (and the\n"
	"        userspace link emulator) alive until `down`. Prints shell assignments\n"
	"        (eval them): MEMSYNC_NET_DRIVER, MEMSYNC_NET_H<i>_NETNS, MEMSYNC_NET_H<i>_ADDR.\n"
	"        Run programs on host i with `ip netns exec $MEMSYNC_NET_H<i>_NETNS CMD`.\n"
	"  down --state FILE     tear the topology down (namespaces, emulator, state file)\n"
	"  counters --state FILE print host 0's link counters as one JSON line:\n"
	"        host0_to_others / others_to_host0: bytes, packets, drops\n"
	"  cleanup               remove namespaces left by crashed runs (creator pid dead)\n"
	"  list                  the shipped profiles with their descriptions\n"
	"  check FILE            validate a profile file (exit 2 with file:line on error)\n"
	"  probe [--driver D]    say which drivers this machine can run and why not; exit 0\n"
	"        when driver D (default tc: the kernel has sch_netem) can run, 77 when not\n"
	"  ceiling --driver D --profile NAME [--set MBIT]\n"
	"        the TCP throughput driver D was measured to deliver on profile NAME\n"
	"        (netem/ceilings/D.conf or $MEMSYNC_NETEM_CEILINGS/D.conf); --set stores one.\n"
	"        A profile whose rate is above 90% of it is capped by the driver\n"
	"  echo --listen ADDR:PORT [--once]\n"
	"        TCP echo server (for rtt)\n"
	"  rtt ADDR:PORT [--count N]\n"
	"        round trips of 64-byte messages over TCP to an echo server; prints\n"
	"        `rtt_ms min=.. avg=.. max=.. count=N`\n"
	"\n"
	"drivers: tc = kernel netem on veth pairs (needs sch_netem); user = TUN devices\n"
	"and a userspace emulator (delay, jitter, token-bucket rate, loss, drop-tail\n"
	"limit; MTU $MEMSYNC_LINK_MTU, default 9000); none = no namespaces, all hosts\n"
	"on 127.0.0.1, no profile applied; auto = tc if the kernel has netem, else user.\n"
	"A profile with no delay, rate limit or loss is a plain veth pair in tc and user.\n"
	"profile keys: description, delay (one way), jitter, rate (bits/s or unlimited),\n"
	"loss (percent), limit (queue packets; default 2 x bandwidth-delay product, >= 1000).\n"
	"Profiles are looked up in $MEMSYNC_SRC/netem/profiles (else the source tree).\n"
	"\n"
	"exit codes: 0 ok, 1 failure, 2 bad usage or bad input, 77 (probe) driver unavailable.\n";

/* Print usage to stderr and return the usage exit code. */
static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "memsync-net: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(see memsync-net --help)\n");
	return EXIT_USAGE;
}

/* Options shared by the subcommands. */
struct net_opts {
	const char *profile, *state, *driver, *listen, *set;
	int hosts, count, once;
};

/* Parse the options after the subcommand; leaves positional args at optind. */
static int parse_opts(int argc, char **argv, struct net_opts *o)
{
	static const struct option longopts[] = {
		{"profile", required_argument, 0, 'p'}, {"state", required_argument, 0, 's'},
		{"driver", required_argument, 0, 'd'},  {"hosts", required_argument, 0, 'n'},
		{"listen", required_argument, 0, 'l'},  {"count", required_argument, 0, 'c'},
		{"once", no_argument, 0, 'o'},          {"help", no_argument, 0, 'h'},
		{"set", required_argument, 0, 'S'},     {0, 0, 0, 0},
	};
	*o = (struct net_opts){.hosts = 2, .count = 20};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:s:d:n:l:c:oh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': o->profile = optarg; break;
		case 's': o->state = optarg; break;
		case 'd': o->driver = optarg; break;
		case 'n': o->hosts = atoi(optarg); break;
		case 'l': o->listen = optarg; break;
		case 'c': o->count = atoi(optarg); break;
		case 'o': o->once = 1; break;
		case 'S': o->set = optarg; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		default: return -1;
		}
	}
	return 0;
}

/* Split "ADDR:PORT" into a sockaddr. */
static int parse_endpoint(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = s ? strrchr(s, ':') : NULL;
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof host)
		return -1;
	snprintf(host, sizeof host, "%.*s", (int)(colon - s), s);
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	int port = atoi(colon + 1);
	if (port <= 0 || port > 65535 || inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

/* Print the topology as shell assignments. */
static void print_topology(FILE *f, const struct topology *t, const char *state)
{
	fprintf(f, "MEMSYNC_NET_DRIVER=%s\nMEMSYNC_NET_PROFILE=%s\nMEMSYNC_NET_STATE=%s\nMEMSYNC_NET_HOSTS=%d\n",
		topo_driver_name(t), topo_profile(t)->name, state, topo_nhosts(t));
	for (int i = 0; i < topo_nhosts(t); i++) {
		const struct topo_host *h = topo_host(t, i);
		fprintf(f, "MEMSYNC_NET_H%d_NETNS=%s\nMEMSYNC_NET_H%d_ADDR=%s\n", i, h->netns, i, h->addr);
	}
}

/* Child side of `up`: create, report through the pipe, hold until a signal, tear down. */
static int up_daemon(const struct netem_profile *p, int hosts, enum netem_driver drv, const char *state, int report)
{
	struct err e = {0};
	struct topology *t;
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	setsid();
	if (topo_create(&t, p, hosts, drv, &e) || topo_save(t, state, &e)) {
		if (t)
			topo_destroy(t);
		dprintf(report, "E%s", e.msg);
		return 1;
	}
	FILE *f = fdopen(report, "w");
	fputc('O', f);
	print_topology(f, t, state);
	int devnull = open("/dev/null", O_RDWR);
	dup2(devnull, 0);
	dup2(devnull, 1);
	dup2(devnull, 2);
	close(devnull);
	fclose(f);
	int sig;
	sigwait(&sigs, &sig);
	topo_destroy(t);
	return 0;
}

/* memsync-net up */
static int cmd_up(const struct net_opts *o)
{
	struct err e = {0};
	struct netem_profile p;
	enum netem_driver drv;
	if (!o->profile || !o->state)
		return usage_error("up needs --profile and --state%s", "");
	if (o->hosts < 2 || o->hosts > TOPO_MAX_HOSTS)
		return usage_error("--hosts must be 2 or 3%s", "");
	if (profile_load(o->profile, &p, &e) || netem_driver_parse(o->driver ? o->driver : "auto", &drv, &e)) {
		fprintf(stderr, "memsync-net: %s\n", e.msg);
		return EXIT_USAGE;
	}
	if (drv == NETEM_NONE && profile_shapes(&p))
		fprintf(stderr, "memsync-net: warning: driver none applies no profile: %s's delay, rate and loss are "
			"ignored (all hosts are 127.0.0.1 on loopback)\n", p.name);
	if (access(o->state, F_OK) == 0) {
		fprintf(stderr, "memsync-net: state file %s exists: run `memsync-net down --state %s` first\n",
			o->state, o->state);
		return 1;
	}
	int pfd[2];
	if (pipe(pfd))
		return perror("pipe"), 1;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return perror("fork"), 1;
	if (pid == 0) {
		close(pfd[0]);
		_exit(up_daemon(&p, o->hosts, drv, o->state, pfd[1]));
	}
	close(pfd[1]);
	char buf[4096];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof buf - 1 && (r = read(pfd[0], buf + n, sizeof buf - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
	}
	close(pfd[0]);
	buf[n] = '\0';
	if (n && buf[0] == 'O') {
		fputs(buf + 1, stdout);
		return 0;
	}
	fprintf(stderr, "memsync-net: up failed: %s\n", n ? buf + 1 : "the topology process died");
	return 1;
}

/* Is pid a memsync-net process (so that `down` never signals a stranger)? */
static int is_memsync_net(int pid)
{
	char path[64], comm[32] = "";
	snprintf(path, sizeof path, "/proc/%d/comm", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(comm, sizeof comm, f))
		comm[0] = '\0';
	fclose(f);
	return !strcmp(comm, "memsync-net\n");
}

/* memsync-net down */
static int cmd_down(const struct net_opts *o)
{
	struct err e = {0};
	struct topology *t;
	if (!o->state)
		return usage_error("down needs --state FILE%s", "");
	if (topo_attach(&t, o->state, &e)) {
		fprintf(stderr, "memsync-net: %s\n", e.msg);
		return 1;
	}
	int rc = 0;
	if (topo_owner_alive(t) && !is_memsync_net(topo_owner_pid(t))) {
		fprintf(stderr, "memsync-net: pid %d of %s is not memsync-net (the topology process died and the pid "
			"was reused); removing its namespaces\n", topo_owner_pid(t), o->state);
		for (int i = 0; i < topo_nhosts(t); i++) {
			struct err ne = {0};
			if (topo_host(t, i)->netns[0] &&
			    cmd_run(&ne, NULL, 0, "ip", "netns", "del", topo_host(t, i)->netns, NULL))
				fprintf(stderr, "memsync-net: %s\n", ne.msg);
		}
	} else if (topo_owner_alive(t)) {
		kill(topo_owner_pid(t), SIGTERM);
		unsigned long long deadline = now_ns() + DOWN_TIMEOUT_NS;
		while (topo_owner_alive(t) && now_ns() < deadline)
			usleep(5000);
		if (topo_owner_alive(t)) {
			fprintf(stderr, "memsync-net: topology process %d did not exit\n", topo_owner_pid(t));
			rc = 1;
		}
	}
	topo_destroy(t);
	if (!rc && topo_cleanup_stale(&e)) {
		fprintf(stderr, "memsync-net: %s\n", e.msg);
		rc = 1;
	}
	if (!rc)
		unlink(o->state);
	return rc;
}

/* memsync-net counters */
static int cmd_counters(const struct net_opts *o)
{
	struct err e = {0};
	struct topology *t;
	struct link_counters c;
	if (!o->state)
		return usage_error("counters needs --state FILE%s", "");
	if (topo_attach(&t, o->state, &e) || topo_counters(t, &c, &e)) {
		fprintf(stderr, "memsync-net: %s\n", e.msg);
		topo_destroy(t);
		return 1;
	}
	struct record r;
	rec_begin(&r);
	rec_str(&r, "driver", topo_driver_name(t));
	rec_str(&r, "profile", topo_profile(t)->name);
	rec_i64(&r, "hosts", topo_nhosts(t));
	static const char *const dir[2] = {"host0_to_others", "others_to_host0"};
	for (int i = 0; i < 2; i++) {
		rec_obj(&r, dir[i]);
		rec_u64(&r, "bytes", c.bytes[i]);
		rec_u64(&r, "packets", c.packets[i]);
		rec_u64(&r, "drops", c.drops[i]);
		rec_end_obj(&r);
	}
	if (rec_write(&r, stdout)) {
		fprintf(stderr, "memsync-net: cannot write to stdout: %s\n", strerror(errno));
		topo_destroy(t);
		return 1;
	}
	topo_destroy(t);
	return 0;
}

/* memsync-net list */
static int cmd_list(void)
{
	static char names[256][64];
	struct err e = {0};
	int n = profile_list(names, 256, &e), rc = 0;
	if (n < 0) {
		fprintf(stderr, "memsync-net: %s\n", e.msg);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct netem_profile p;
		err_clear(&e);
		if (profile_load(names[i], &p, &e)) {
			fprintf(stderr, "memsync-net: %s\n", e.msg);
			rc = 1;
			continue;
		}
		printf("%-16s %s\n", p.name, p.description);
	}
	return rc;
}

/* memsync-net check FILE */
static int cmd_check(int argc, char **argv)
{
	struct err e = {0};
	struct netem_profile p;
	if (optind != argc - 1)
		return usage_error("check needs exactly one profile file%s", "");
	if (profile_load(argv[optind], &p, &e)) {
		fprintf(stderr, "memsync-net: %s\n", e.msg);
		return EXIT_USAGE;
	}
	printf("%s: ok: delay=%.3fms jitter=%.3fms rate=%" PRIu64 "bit/s%s loss=%g%% limit=%" PRIu64 " packets\n",
	       p.path, (double)p.delay_ns / 1e6, (double)p.jitter_ns / 1e6, p.rate_bps,
	       p.rate_bps ? "" : " (unlimited)", p.loss * 100.0, p.limit_pkts);
	return 0;
}

/* memsync-net probe: each driver's availability; exit 0/77 for the asked one. */
static int cmd_probe(const struct net_opts *o)
{
	struct err e = {0};
	enum netem_driver want;
	if (netem_driver_parse(o->driver ? o->driver : "tc", &want, &e))
		return usage_error("%s", e.msg);
	static const enum netem_driver all[] = {NETEM_TC, NETEM_USER, NETEM_NONE};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		char why[256];
		int ok = netem_driver_available(all[i], why, sizeof why);
		printf("%-5s %-4s %s\n", netem_driver_name(all[i]), ok ? "yes" : "no", netem_driver_summary(all[i]));
		if (!ok)
			printf("           why not: %s\n", why);
	}
	printf("auto  =    %s\n", netem_tc_available() ? "tc" : "user");
	return netem_driver_available(want, NULL, 0) ? 0 : EXIT_SKIP;
}

/* memsync-net ceiling --driver D --profile NAME [--set MBIT] */
static int cmd_ceiling(const struct net_opts *o)
{
	struct err e = {0};
	enum netem_driver d;
	if (!o->driver || !o->profile)
		return usage_error("ceiling needs --driver and --profile%s", "");
	if (netem_driver_parse(o->driver, &d, &e) || d == NETEM_AUTO || d == NETEM_NONE)
		return usage_error("ceiling: --driver must be tc or user, not '%s'", o->driver);
	if (o->set) {
		char *end;
		double mbit = strtod(o->set, &end);
		if (end == o->set || *end)
			return usage_error("ceiling: --set wants Mbit/s, got '%s'", o->set);
		if (ceiling_set(o->driver, o->profile, mbit, &e)) {
			fprintf(stderr, "memsync-net: %s\n", e.msg);
			return 1;
		}
	}
	double mbit;
	int rc = ceiling_get(o->driver, o->profile, &mbit, &e);
	if (rc < 0) {
		fprintf(stderr, "memsync-net: %s\n", e.msg);
		return 1;
	}
	if (rc == 0) {
		printf("%s %s: unknown (no measurement in %s/%s.conf)\n", o->driver, o->profile, ceiling_dir(), o->driver);
		return 0;
	}
	struct netem_profile p;
	int capped = !profile_load(o->profile, &p, &e) && ceiling_caps(&p, mbit);
	printf("%s %s: %.1f Mbit/s%s\n", o->driver, o->profile, mbit, capped ? " (capped: below the profile's rate)" : "");
	return 0;
}

/* Echo everything a connection sends until it closes. */
static void echo_connection(int fd)
{
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w <= 0)
				return;
			off += w;
		}
}

/* memsync-net echo --listen ADDR:PORT */
static int cmd_echo(const struct net_opts *o)
{
	struct sockaddr_in sa;
	if (parse_endpoint(o->listen, &sa))
		return usage_error("echo needs --listen ADDR:PORT (IPv4), got '%s'", o->listen ? o->listen : "");
	int one = 1, ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 16)) {
		fprintf(stderr, "memsync-net: echo: cannot listen on %s: %s\n", o->listen, strerror(errno));
		return 1;
	}
	do {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		echo_connection(fd);
		close(fd);
	} while (!o->once);
	close(ls);
	return 0;
}

/* memsync-net rtt ADDR:PORT */
static int cmd_rtt(int argc, char **argv, const struct net_opts *o)
{
	struct sockaddr_in sa;
	if (optind != argc - 1 || parse_endpoint(argv[optind], &sa))
		return usage_error("rtt needs ADDR:PORT (IPv4)%s", "");
	if (o->count < 1)
		return usage_error("--count must be at least 1%s", "");
	int one = 1, fd = -1;
	unsigned long long deadline = now_ns() + 5000000000ULL;
	for (;;) { /* the echo server may still be starting */
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (!connect(fd, (struct sockaddr *)&sa, sizeof sa))
			break;
		int er = errno;
		close(fd);
		if (now_ns() > deadline) {
			fprintf(stderr, "memsync-net: rtt: cannot connect to %s: %s\n", argv[optind], strerror(er));
			return 1;
		}
		usleep(50000);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char msg[ECHO_MSG_SIZE], back[ECHO_MSG_SIZE];
	memset(msg, 'm', sizeof msg);
	double min = 1e30, max = 0, sum = 0;
	for (int i = 0; i < o->count; i++) {
		unsigned long long t0 = now_ns();
		size_t got = 0;
		if (write(fd, msg, sizeof msg) != (ssize_t)sizeof msg)
			return fprintf(stderr, "memsync-net: rtt: write: %s\n", strerror(errno)), 1;
		while (got < sizeof back) {
			ssize_t n = read(fd, back + got, sizeof back - got);
			if (n <= 0)
				return fprintf(stderr, "memsync-net: rtt: echo server closed the connection\n"), 1;
			got += (size_t)n;
		}
		double ms = (double)(now_ns() - t0) / 1e6;
		min = ms < min ? ms : min;
		max = ms > max ? ms : max;
		sum += ms;
	}
	close(fd);
	printf("rtt_ms min=%.3f avg=%.3f max=%.3f count=%d\n", min, sum / o->count, max, o->count);
	return 0;
}

/* Dispatch the subcommand. */
int main(int argc, char **argv)
{
	struct net_opts o;
	if (argc < 2)
		return usage_error("missing command%s", "");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (parse_opts(argc - 1, argv + 1, &o))
		return usage_error("bad option for '%s'", cmd);
	argc--, argv++;
	if (!strcmp(cmd, "up"))
		return cmd_up(&o);
	if (!strcmp(cmd, "down"))
		return cmd_down(&o);
	if (!strcmp(cmd, "counters"))
		return cmd_counters(&o);
	if (!strcmp(cmd, "cleanup")) {
		struct err e = {0};
		int n;
		if (topo_cleanup_stale_counted(&n, &e))
			return fprintf(stderr, "memsync-net: %s\n", e.msg), 1;
		fprintf(stderr, "memsync-net: removed %d stale item%s\n", n, n == 1 ? "" : "s");
		return 0;
	}
	if (!strcmp(cmd, "list"))
		return cmd_list();
	if (!strcmp(cmd, "check"))
		return cmd_check(argc, argv);
	if (!strcmp(cmd, "probe"))
		return cmd_probe(&o);
	if (!strcmp(cmd, "ceiling"))
		return cmd_ceiling(&o);
	if (!strcmp(cmd, "echo"))
		return cmd_echo(&o);
	if (!strcmp(cmd, "rtt"))
		return cmd_rtt(argc, argv, &o);
	return usage_error("unknown command '%s'", cmd);
}
