/*
 * test_netem_topology.c - unit test of the topology API as the harness uses
 * it: driver names, host count limits, the none driver, and (as root, with
 * /dev/net/tun) a 3-host user-driver topology: forked children enter hosts
 * with topo_enter(), a TCP echo across the link shows the profile's RTT,
 * topo_counters() counts both directions, and topo_destroy() leaves no
 * namespace and no counters page.
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

#include "clock.h"
#include "log.h"
#include "netem/topology.h"
#include "check.h"

#define ECHO_PORT 7100

/* Driver names parse both ways. */
static void test_driver_parse(void)
{
	static const char *names[] = {"auto", "tc", "user", "none"};
	static const enum netem_driver drvs[] = {NETEM_AUTO, NETEM_TC, NETEM_USER, NETEM_NONE};
	for (int i = 0; i < 4; i++) {
		enum netem_driver d;
		struct err e = {0};
		CHECK(!netem_driver_parse(names[i], &d, &e) && d == drvs[i], "parse %s", names[i]);
	}
	enum netem_driver d;
	struct err e = {0};
	CHECK(netem_driver_parse("netem", &d, &e) == -1 && strstr(e.msg, "unknown netem driver"), "bad: %s", e.msg);
}

/* The none driver: everything on 127.0.0.1, no namespaces, zero counters. */
static void test_none(const struct netem_profile *p)
{
	struct topology *t;
	struct err e = {0};
	CHECK(!topo_create(&t, p, 3, NETEM_NONE, &e), "none: %s", e.msg);
	if (!t)
		return;
	CHECK(!strcmp(topo_driver_name(t), "none"), "driver %s", topo_driver_name(t));
	for (int i = 0; i < 3; i++) {
		CHECK(!strcmp(topo_host(t, i)->addr, "127.0.0.1") && !topo_host(t, i)->netns[0], "none host %d", i);
		CHECK(!topo_enter(t, i, &e), "enter %d: %s", i, e.msg);
	}
	CHECK(topo_host(t, 3) == NULL, "host 3 exists");
	struct link_counters c;
	CHECK(!topo_counters(t, &c, &e) && c.bytes[0] == 0 && c.packets[1] == 0, "none counters");
	topo_destroy(t);
	CHECK(topo_create(&t, p, 1, NETEM_NONE, &e) == -1 && !t, "1 host accepted");
	err_clear(&e);
	CHECK(topo_create(&t, p, 4, NETEM_NONE, &e) == -1 && !t, "4 hosts accepted");
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

/* A 3-host user-driver topology used the way the harness does. */
static void test_user(const struct netem_profile *p)
{
	struct topology *t;
	struct err e = {0};
	if (topo_create(&t, p, 3, NETEM_USER, &e)) {
		CHECK(0, "user topology: %s", e.msg);
		return;
	}
	CHECK(!strcmp(topo_driver_name(t), "user"), "driver %s", topo_driver_name(t));
	CHECK(!strcmp(topo_host(t, 2)->addr, "198.18.0.3"), "host 2 addr %s", topo_host(t, 2)->addr);
	char ns0[64];
	snprintf(ns0, sizeof ns0, "/run/netns/%s", topo_host(t, 0)->netns);
	int pfd[2];
	CHECK(!pipe(pfd), "pipe");
	pid_t echo = fork();
	if (echo == 0)
		echo_child(t, pfd[1]);
	char r;
	CHECK(read(pfd[0], &r, 1) == 1, "echo server did not start");
	pid_t probe = fork();
	if (probe == 0)
		probe_child(t, 0, 9.9, 20.0); /* delay 5 ms: RTT 10 ms */
	CHECK(wait_child(probe) == 0, "host 0 -> host 1 RTT outside 9.9-20 ms");
	CHECK(wait_child(echo) == 0, "echo child failed");
	struct link_counters c;
	CHECK(!topo_counters(t, &c, &e), "counters: %s", e.msg);
	CHECK(c.packets[0] >= 10 && c.packets[1] >= 10 && c.bytes[0] >= 640, "counters %llu/%llu packets",
	      (unsigned long long)c.packets[0], (unsigned long long)c.packets[1]);
	char shm[64];
	snprintf(shm, sizeof shm, "/dev/shm/ms%d-link", topo_owner_pid(t));
	topo_destroy(t);
	struct stat st;
	CHECK(stat(ns0, &st) != 0, "%s left behind", ns0);
	CHECK(stat(shm, &st) != 0, "%s left behind", shm);
	close(pfd[0]);
	close(pfd[1]);
}

/* Run the tests; the user-driver part needs root and /dev/net/tun. */
int main(void)
{
	struct netem_profile p = {.delay_ns = 5000000, .limit_pkts = 1000};
	snprintf(p.name, sizeof p.name, "unit");
	snprintf(p.path, sizeof p.path, "unit.conf");
	test_driver_parse();
	test_none(&p);
	struct err e = {0};
	CHECK(!topo_cleanup_stale(&e), "cleanup_stale: %s", e.msg);
	if (geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0)
		test_user(&p);
	else
		fprintf(stderr, "user-driver part skipped: needs root and /dev/net/tun\n");
	return check_done();
}
