/*
 * test_netem_topology.c - unit test of the topology API as the harness uses
 * it: the driver table (names, availability), host count limits, the none
 * driver, the measured ceilings (netem/ceilings/<driver>.conf) and, as root
 * with /dev/net/tun, the user driver: a 3-host emulated topology (forked
 * children enter hosts with topo_enter(), a TCP echo across the link shows
 * the profile's RTT, topo_counters() counts both directions and the
 * emulator's CPU, topo_destroy() leaves no namespace and no counters page),
 * the veth fast path of an unshaped profile (no emulator, no counters page),
 * and a capped profile's ceiling.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "netem/ceiling.h"
#include "netem/topology.h"

#define ECHO_PORT 7100

static char tmpdir[] = "/tmp/memsync-topology-test.XXXXXX";

/* Driver names parse both ways; none is always available. */
static void test_drivers(void)
{
	static const char *names[] = {"auto", "tc", "user", "none"};
	static const enum netem_driver drvs[] = {NETEM_AUTO, NETEM_TC, NETEM_USER, NETEM_NONE};
	for (int i = 0; i < 4; i++) {
		enum netem_driver d;
		struct err e = {0};
		CHECK(!netem_driver_parse(names[i], &d, &e) && d == drvs[i]);
		CHECK(!strcmp(netem_driver_name(drvs[i]), names[i]));
		CHECK(netem_driver_summary(drvs[i])[0]);
	}
	enum netem_driver d;
	struct err e = {0};
	CHECK(netem_driver_parse("netem", &d, &e) == -1 && strstr(e.msg, "unknown netem driver"));
	char why[256] = "x";
	CHECK(netem_driver_available(NETEM_NONE, why, sizeof why) == 1 && !why[0]);
	CHECK(netem_driver_available(NETEM_TC, why, sizeof why) == netem_tc_available());
	if (!netem_tc_available())
		CHECK(strstr(why, "netem") != NULL);
}

/* The none driver: everything on 127.0.0.1, no namespaces, zero counters. */
static void test_none(const struct netem_profile *p)
{
	struct topology *t;
	struct err e = {0};
	CHECK(!topo_create(&t, p, 3, NETEM_NONE, &e));
	if (!t)
		return;
	CHECK(!strcmp(topo_driver_name(t), "none") && !strcmp(topo_link_path(t), "loopback"));
	for (int i = 0; i < 3; i++) {
		CHECK(!strcmp(topo_host(t, i)->addr, "127.0.0.1") && !topo_host(t, i)->netns[0]);
		CHECK(!topo_enter(t, i, &e));
	}
	CHECK(topo_host(t, 3) == NULL);
	struct link_counters c;
	CHECK(!topo_counters(t, &c, &e) && c.bytes[0] == 0 && c.packets[1] == 0 && !c.cpu_known);
	CHECK(link_cpu_s_per_gb(&c) < 0);
	struct topo_ceiling lc;
	CHECK(!topo_link_ceiling(t, &lc, &e) && !lc.known && !lc.capped);
	topo_destroy(t);
	CHECK(topo_create(&t, p, 1, NETEM_NONE, &e) == -1 && !t);
	err_clear(&e);
	CHECK(topo_create(&t, p, 4, NETEM_NONE, &e) == -1 && !t);
}

/* Ceilings: stored, replaced, looked up; a rate above 90 % of one is capped;
 * a bad file names its line. */
static void test_ceiling_file(void)
{
	struct err e = {0};
	double mbit = 0;
	CHECK(ceiling_get("user", "lan", &mbit, &e) == 0);
	CHECK(!ceiling_set("user", "lan", 4000, &e) && !ceiling_set("user", "wan", 950.5, &e));
	CHECK(!ceiling_set("user", "lan", 5400.34, &e)); /* stored to 0.1 Mbit/s */
	CHECK(ceiling_get("user", "lan", &mbit, &e) == 1 && mbit > 5400.29 && mbit < 5400.31);
	CHECK(ceiling_get("user", "wan", &mbit, &e) == 1 && mbit > 950.4 && mbit < 950.6);
	CHECK(ceiling_get("tc", "lan", &mbit, &e) == 0 && ceiling_get("user", "metro", &mbit, &e) == 0);
	CHECK(ceiling_set("user", "../x", 1, &e) == -1 && strstr(e.msg, "bad profile name"));
	err_clear(&e);
	CHECK(ceiling_set("user", "lan", 0, &e) == -1);
	struct netem_profile p = {.rate_bps = 10000000000ULL};
	CHECK(ceiling_caps(&p, 5400) && !ceiling_caps(&p, 9500));
	p.rate_bps = 0;
	CHECK(!ceiling_caps(&p, 1));
	char path[400];
	snprintf(path, sizeof path, "%s/tc.conf", ceiling_dir());
	FILE *f = fopen(path, "w");
	fputs("# bad\nlan = 10gbit\nwan = fast\n", f);
	fclose(f);
	err_clear(&e);
	CHECK(ceiling_get("tc", "lan", &mbit, &e) == -1 && strstr(e.msg, "tc.conf:3: wan"));
}

/* Child: enter host 1, echo one connection. */
static void echo_child(const struct topology *t, int ready_fd)
{
	struct err e = {0};
	if (topo_enter(t, 1, &e)) {
		fprintf(stderr, "echo child: %s\n", e.msg);
		_exit(1);
	}
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ECHO_PORT)};
	inet_pton(AF_INET, topo_host(t, 1)->addr, &sa.sin_addr);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1))
		_exit(2);
	if (write(ready_fd, "r", 1) != 1)
		_exit(3);
	int fd = accept(ls, NULL, NULL);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char buf[64];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (write(fd, buf, (size_t)n) != n)
			break;
	_exit(0);
}

/* Child: enter host from, 10 round trips to host 1; exit 0 if min RTT is in [lo, hi] ms. */
static void probe_child(const struct topology *t, int from, double lo, double hi)
{
	struct err e = {0};
	if (topo_enter(t, from, &e))
		_exit(1);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ECHO_PORT)};
	inet_pton(AF_INET, topo_host(t, 1)->addr, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa))
		_exit(2);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	double min = 1e9;
	for (int i = 0; i < 10; i++) {
		char b[64] = {0};
		unsigned long long t0 = now_ns();
		if (write(fd, b, sizeof b) != sizeof b || read(fd, b, sizeof b) <= 0)
			_exit(3);
		double ms = (double)(now_ns() - t0) / 1e6;
		min = ms < min ? ms : min;
	}
	fprintf(stderr, "host %d -> host 1: min RTT %.3f ms\n", from, min);
	_exit(min >= lo && min <= hi ? 0 : 4);
}

/* Wait for a child and return its exit status (or -1). */
static int wait_child(pid_t pid)
{
	int st;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A TCP echo in host 1, round trips from host 0: min RTT within [lo, hi] ms. */
static void echo_round_trips(const struct topology *t, double lo, double hi)
{
	int pfd[2];
	CHECK(!pipe(pfd));
	pid_t echo = fork();
	if (echo == 0)
		echo_child(t, pfd[1]);
	char r;
	CHECK(read(pfd[0], &r, 1) == 1);
	pid_t probe = fork();
	if (probe == 0)
		probe_child(t, 0, lo, hi);
	CHECK(wait_child(probe) == 0);
	CHECK(wait_child(echo) == 0);
	close(pfd[0]);
	close(pfd[1]);
}

/* A 3-host user-driver topology used the way the harness does. */
static void test_user(const struct netem_profile *p)
{
	struct topology *t;
	struct err e = {0};
	if (topo_create(&t, p, 3, NETEM_USER, &e)) {
		fprintf(stderr, "user topology: %s\n", e.msg);
		CHECK(0);
		return;
	}
	CHECK(!strcmp(topo_driver_name(t), "user") && !strcmp(topo_link_path(t), "emulator"));
	CHECK(!strcmp(topo_host(t, 2)->addr, "198.18.0.3"));
	char ns0[64];
	snprintf(ns0, sizeof ns0, "/run/netns/%s", topo_host(t, 0)->netns);
	struct link_counters c0, c1, d;
	CHECK(!topo_counters(t, &c0, &e));
	echo_round_trips(t, 9.9, 20.0); /* delay 5 ms: RTT 10 ms */
	usleep(20000); /* the emulator publishes its CPU time when it goes idle */
	CHECK(!topo_counters(t, &c1, &e));
	fprintf(stderr, "user: %llu/%llu packets, %llu/%llu ns of emulator CPU\n", (unsigned long long)c1.packets[0],
		(unsigned long long)c1.packets[1], (unsigned long long)c1.cpu_ns[0], (unsigned long long)c1.cpu_ns[1]);
	CHECK(c1.packets[0] >= 10 && c1.packets[1] >= 10 && c1.bytes[0] >= 640);
	CHECK(c1.cpu_known && c1.cpu_ns[0] > 0 && c1.cpu_ns[1] > 0);
	link_counters_delta(&c0, &c1, &d);
	CHECK(d.bytes[0] == c1.bytes[0] - c0.bytes[0] && link_cpu_s_per_gb(&d) > 0);
	char shm[64];
	snprintf(shm, sizeof shm, "/dev/shm/ms%d-link", topo_owner_pid(t));
	topo_destroy(t);
	struct stat st;
	CHECK(stat(ns0, &st) != 0);
	CHECK(stat(shm, &st) != 0);
}

/* An unshaped profile: plain veth pairs, no emulator, kernel counters. */
static void test_fast_path(void)
{
	struct netem_profile p = {.limit_pkts = 1000};
	snprintf(p.name, sizeof p.name, "unshaped");
	struct topology *t;
	struct err e = {0};
	if (topo_create(&t, &p, 2, NETEM_USER, &e)) {
		fprintf(stderr, "fast path: %s\n", e.msg);
		CHECK(0);
		return;
	}
	CHECK(!strcmp(topo_link_path(t), "veth"));
	char cmd[200], out[4096] = "";
	snprintf(cmd, sizeof cmd, "ip -n %s -d link show v1 2>/dev/null; tc -n %s qdisc show dev v1", topo_host(t, 0)->netns,
		 topo_host(t, 0)->netns);
	FILE *f = popen(cmd, "r");
	size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
	out[n] = '\0';
	if (f)
		pclose(f);
	CHECK(strstr(out, "veth") && strstr(out, "noqueue") && !strstr(out, "gso_max_segs 1 "));
	char shm[64];
	struct stat st;
	snprintf(shm, sizeof shm, "/dev/shm/ms%d-link", topo_owner_pid(t));
	CHECK(stat(shm, &st) != 0);
	echo_round_trips(t, 0, 5.0);
	struct link_counters c;
	CHECK(!topo_counters(t, &c, &e) && c.packets[0] >= 10 && c.packets[1] >= 10 && !c.cpu_known);
	topo_destroy(t);
}

/* A shipped profile whose rate the driver was measured not to reach is capped. */
static void test_capped(void)
{
	struct netem_profile p;
	struct topology *t;
	struct err e = {0};
	CHECK(!profile_load("lan", &p, &e) && !ceiling_set("user", "lan", 5400, &e));
	if (topo_create(&t, &p, 2, NETEM_USER, &e)) {
		fprintf(stderr, "capped: %s\n", e.msg);
		CHECK(0);
		return;
	}
	struct topo_ceiling lc;
	CHECK(!topo_link_ceiling(t, &lc, &e) && lc.known && lc.capped && lc.mbit > 5399 && lc.mbit < 5401);
	topo_destroy(t);
	snprintf(p.path, sizeof p.path, "%s/lan.conf", tmpdir); /* same name, another file: not the shipped link */
	CHECK(!topo_create(&t, &p, 2, NETEM_NONE, &e) && !topo_link_ceiling(t, &lc, &e) && !lc.known);
	topo_destroy(t);
}

/* Run the tests; the user-driver part needs root and /dev/net/tun. */
int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("MEMSYNC_NETEM_CEILINGS", tmpdir, 1);
	struct netem_profile p = {.delay_ns = 5000000, .limit_pkts = 1000};
	snprintf(p.name, sizeof p.name, "unit");
	snprintf(p.path, sizeof p.path, "unit.conf");
	test_drivers();
	test_none(&p);
	test_ceiling_file();
	struct err e = {0};
	CHECK(!topo_cleanup_stale(&e));
	if (geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0) {
		test_user(&p);
		test_fast_path();
		test_capped();
	} else {
		fprintf(stderr, "user-driver part skipped: needs root and /dev/net/tun\n");
	}
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_done();
}
