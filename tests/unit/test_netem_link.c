/*
 * test_netem_link.c - unit test of the userspace link emulator (netem/link.c)
 * without root or TUN: SOCK_SEQPACKET socketpairs stand in for the hosts'
 * TUN devices (one packet per read, like TUN with IFF_NO_PI). Checks delay,
 * jitter, rate (serialization), random loss, the drop-tail queue limit, FIFO order
 * and the per-direction counters. Upper time bounds are loose (loaded CI,
 * the VM lab); the lower bounds are what proves the emulation.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>

#include "clock.h"
#include "log.h"
#include "netem/link.h"
#include "check.h"

/* A running emulator between two fake hosts. */
struct rig {
	int host_fd[2];           /* what host 0 and host 1 write to / read from */
	pid_t pid;
	struct link_stats *stats;
};

/* Start link_run() in a child on two socketpairs. */
static void rig_start(struct rig *r, const struct netem_profile *p)
{
	int sp[2][2], emu_fd[2];
	r->stats = mmap(NULL, sizeof *r->stats, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(r->stats, 0, sizeof *r->stats);
	for (int i = 0; i < 2; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp[i])) {
			perror("socketpair");
			exit(1);
		}
		r->host_fd[i] = sp[i][0];
		emu_fd[i] = sp[i][1];
		int big = 4 << 20;
		setsockopt(sp[i][0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
		setsockopt(sp[i][1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	}
	r->pid = fork();
	if (r->pid == 0) {
		close(sp[0][0]);
		close(sp[1][0]);
		_exit(link_run(p, emu_fd, 2, r->stats) ? 1 : 0);
	}
	close(emu_fd[0]);
	close(emu_fd[1]);
	while (__atomic_load_n(&r->stats->state, __ATOMIC_ACQUIRE) == LINK_STARTING)
		usleep(1000);
}

/* Stop the emulator and check it exited cleanly. */
static void rig_stop(struct rig *r)
{
	int status;
	kill(r->pid, SIGTERM);
	waitpid(r->pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "emulator exit status %d (%s)", status, r->stats->errmsg);
	close(r->host_fd[0]);
	close(r->host_fd[1]);
	munmap(r->stats, sizeof *r->stats);
}

/* Build a fake IPv4 packet of len bytes to 198.18.0.<dst+1> carrying seq. */
static void make_packet(unsigned char *buf, size_t len, int dst, uint32_t seq)
{
	memset(buf, 0, len);
	buf[0] = 0x45;
	buf[12] = 198, buf[13] = 18, buf[14] = 0, buf[15] = 1;
	buf[16] = 198, buf[17] = 18, buf[18] = 0, buf[19] = (unsigned char)(dst + 1);
	memcpy(buf + 20, &seq, sizeof seq);
}

/* Receive packets on fd until count arrived or timeout_ms passed; record arrival times and sequence numbers. */
static int receive(int fd, int count, int timeout_ms, uint64_t *arrival, uint32_t *seqs)
{
	int got = 0;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	unsigned char buf[65536];
	while (got < count && now_ns() < deadline) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		poll(&pfd, 1, 10);
		ssize_t n;
		while (got < count && (n = read(fd, buf, sizeof buf)) > 0) {
			if (arrival)
				arrival[got] = now_ns();
			if (seqs)
				memcpy(&seqs[got], buf + 20, sizeof seqs[got]);
			got++;
		}
	}
	return got;
}

/* A receiver running while the test sends, so arrival times are exact. */
struct collector {
	pthread_t thread;
	int fd, count, timeout_ms, got;
	uint64_t arr[256];
	uint32_t seqs[256];
};

/* Thread body: receive() into the collector. */
static void *collector_main(void *arg)
{
	struct collector *c = arg;
	c->got = receive(c->fd, c->count, c->timeout_ms, c->arr, c->seqs);
	return NULL;
}

/* Start collecting count packets from fd. */
static void collector_start(struct collector *c, int fd, int count, int timeout_ms)
{
	c->fd = fd;
	c->count = count;
	c->timeout_ms = timeout_ms;
	c->got = 0;
	pthread_create(&c->thread, NULL, collector_main, c);
}

/* Wait for the collector; returns how many packets arrived. */
static int collector_join(struct collector *c)
{
	pthread_join(c->thread, NULL);
	return c->got;
}

/* A base profile: no shaping. */
static struct netem_profile base_profile(void)
{
	struct netem_profile p = {.limit_pkts = 100000};
	snprintf(p.name, sizeof p.name, "unit");
	return p;
}

/* Delay: every packet arrives after the one-way delay, in order. */
static void test_delay(void)
{
	struct netem_profile p = base_profile();
	p.delay_ns = 20000000;
	struct rig r;
	rig_start(&r, &p);
	unsigned char pkt[100];
	uint64_t sent[20];
	static struct collector col;
	collector_start(&col, r.host_fd[1], 20, 2000);
	for (uint32_t i = 0; i < 20; i++) {
		make_packet(pkt, sizeof pkt, 1, i);
		sent[i] = now_ns();
		CHECK(write(r.host_fd[0], pkt, sizeof pkt) == sizeof pkt, "write");
		usleep(1000);
	}
	int got = collector_join(&col);
	uint64_t *arr = col.arr;
	uint32_t *seqs = col.seqs;
	CHECK(got == 20, "delay: %d of 20 packets arrived", got);
	for (int i = 0; i < got; i++) {
		double ms = (double)(arr[i] - sent[seqs[i]]) / 1e6;
		CHECK(ms >= 19.9 && ms < 40, "delay: packet %u took %.3f ms (want 20)", seqs[i], ms);
		CHECK(seqs[i] == (uint32_t)i, "delay: order %u at %d", seqs[i], i);
	}
	usleep(20000); /* the emulator counts right after its write */
	CHECK(r.stats->packets[0][1] == 20 && r.stats->bytes[0][1] == 2000, "counters %llu pkts %llu bytes",
	      (unsigned long long)r.stats->packets[0][1], (unsigned long long)r.stats->bytes[0][1]);
	CHECK(r.stats->packets[1][0] == 0, "reverse direction counted");
	rig_stop(&r);
}

/* Jitter: delays spread over delay +- jitter, never reordered. */
static void test_jitter(void)
{
	struct netem_profile p = base_profile();
	p.delay_ns = 10000000;
	p.jitter_ns = 5000000;
	struct rig r;
	rig_start(&r, &p);
	unsigned char pkt[100];
	uint64_t sent[50];
	static struct collector col;
	collector_start(&col, r.host_fd[1], 50, 2000);
	for (uint32_t i = 0; i < 50; i++) {
		make_packet(pkt, sizeof pkt, 1, i);
		sent[i] = now_ns();
		CHECK(write(r.host_fd[0], pkt, sizeof pkt) == sizeof pkt, "write");
		usleep(2000);
	}
	int got = collector_join(&col);
	uint64_t *arr = col.arr;
	uint32_t *seqs = col.seqs;
	CHECK(got == 50, "jitter: %d of 50 arrived", got);
	double lo = 1e9, hi = 0;
	for (int i = 0; i < got; i++) {
		double ms = (double)(arr[i] - sent[seqs[i]]) / 1e6;
		lo = ms < lo ? ms : lo;
		hi = ms > hi ? ms : hi;
		CHECK(seqs[i] == (uint32_t)i, "jitter reordered: %u at %d", seqs[i], i);
	}
	CHECK(lo >= 4.9 && lo < 9, "jitter: shortest delay %.3f ms (want 5-9)", lo);
	CHECK(hi > 11 && hi < 40, "jitter: longest delay %.3f ms (want 11-15, loose)", hi);
	rig_stop(&r);
}

/* Rate: 200 packets of 1250 bytes at 20 Mbit/s take 100 ms to serialize. */
static void test_rate(void)
{
	struct netem_profile p = base_profile();
	p.rate_bps = 20000000;
	struct rig r;
	rig_start(&r, &p);
	unsigned char pkt[1250];
	uint64_t arr[200];
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < 200; i++) {
		make_packet(pkt, sizeof pkt, 1, i);
		while (write(r.host_fd[0], pkt, sizeof pkt) < 0 && errno == EAGAIN)
			usleep(100);
	}
	int got = receive(r.host_fd[1], 200, 3000, arr, NULL);
	CHECK(got == 200, "rate: %d of 200 arrived", got);
	double ms = (double)(arr[got - 1] - t0) / 1e6;
	CHECK(ms >= 99 && ms < 200, "rate: 250 kB at 20 Mbit/s took %.1f ms (want 100)", ms);
	rig_stop(&r);
}

/* Loss: 30% of 3000 packets dropped (within 5 points), drops counted. */
static void test_loss(void)
{
	struct netem_profile p = base_profile();
	p.loss = 0.30;
	struct rig r;
	rig_start(&r, &p);
	unsigned char pkt[64];
	int got = 0;
	for (uint32_t i = 0; i < 3000; i++) {
		make_packet(pkt, sizeof pkt, 1, i);
		while (write(r.host_fd[0], pkt, sizeof pkt) < 0 && errno == EAGAIN)
			usleep(100);
		if (i % 20 == 19) /* drain as we go: a full socket would drop too */
			got += receive(r.host_fd[1], 3000, 2, NULL, NULL);
	}
	got += receive(r.host_fd[1], 3000, 200, NULL, NULL);
	usleep(20000);
	double lost = 1.0 - got / 3000.0;
	CHECK(lost > 0.25 && lost < 0.35, "loss: %.3f lost (want 0.30)", lost);
	CHECK(r.stats->drops[0][1] + (uint64_t)got == 3000, "loss: drops %llu + delivered %d != 3000",
	      (unsigned long long)r.stats->drops[0][1], got);
	rig_stop(&r);
}

/* Limit: a slow link with a 10-packet queue keeps only about 10 of a burst of 100. */
static void test_limit(void)
{
	struct netem_profile p = base_profile();
	p.rate_bps = 1000000;
	p.limit_pkts = 10;
	struct rig r;
	rig_start(&r, &p);
	unsigned char pkt[125];
	for (uint32_t i = 0; i < 100; i++) {
		make_packet(pkt, sizeof pkt, 1, i);
		CHECK(write(r.host_fd[0], pkt, sizeof pkt) == sizeof pkt, "write");
	}
	int got = receive(r.host_fd[1], 100, 300, NULL, NULL);
	usleep(20000);
	CHECK(got >= 10 && got <= 40, "limit: %d of a 100-packet burst passed a 10-packet queue", got);
	CHECK(r.stats->drops[0][1] >= 80, "limit: %llu drops", (unsigned long long)r.stats->drops[0][1]);
	rig_stop(&r);
}

/* Packets for unknown hosts are not forwarded. */
static void test_unroutable(void)
{
	struct netem_profile p = base_profile();
	struct rig r;
	rig_start(&r, &p);
	unsigned char pkt[64];
	make_packet(pkt, sizeof pkt, 7, 0); /* 198.18.0.8: no such host */
	CHECK(write(r.host_fd[0], pkt, sizeof pkt) == sizeof pkt, "write");
	pkt[0] = 0x60; /* IPv6 */
	CHECK(write(r.host_fd[0], pkt, sizeof pkt) == sizeof pkt, "write");
	usleep(50000);
	CHECK(r.stats->unroutable == 2, "unroutable %llu", (unsigned long long)r.stats->unroutable);
	CHECK(receive(r.host_fd[1], 1, 50, NULL, NULL) == 0, "unroutable packet delivered");
	rig_stop(&r);
}

/* Run all tests. */
int main(void)
{
	test_delay();
	test_jitter();
	test_rate();
	test_loss();
	test_limit();
	test_unroutable();
	return check_done();
}
