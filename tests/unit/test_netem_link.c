/*
 * test_netem_link.c - unit test of the userspace link emulator (netem/link.c)
 * without root or TUN: SOCK_SEQPACKET socketpairs stand in for the hosts'
 * devices (one packet per read, like TUN with IFF_NO_PI). Checks delay,
 * jitter, rate (serialization), random loss, the drop-tail queue limit, FIFO
 * order, the per-direction counters, three hosts, GSO super-packets behind a
 * virtio-net header (counted per segment), the accuracy of the timed wait,
 * and that waiting for a departure burns no CPU. Upper time bounds are
 * loose (loaded CI, the VM lab); the lower bounds are what proves the
 * emulation.
 */
#include <errno.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "netem/link.h"

/* A running emulator between n fake hosts. */
struct rig {
	int n;
	int host_fd[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS]; /* host i's end of its device towards j */
	pid_t pid;
	struct link_stats *stats;
};

/* Start link_run() in a child on socketpairs, one per (host, peer). */
static void rig_start(struct rig *r, const struct netem_profile *p, int n, int vnet)
{
	struct link_ports ports = {.nhosts = n, .vnet_hdr = vnet};
	memset(ports.fd, -1, sizeof ports.fd);
	memset(r->host_fd, -1, sizeof r->host_fd);
	r->n = n;
	r->stats = mmap(NULL, sizeof *r->stats, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(r->stats, 0, sizeof *r->stats);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++) {
			int sp[2], big = 4 << 20;
			if (i == j)
				continue;
			if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp)) {
				perror("socketpair");
				exit(1);
			}
			for (int k = 0; k < 2; k++) { /* AF_UNIX charges queued packets to the sender */
				setsockopt(sp[k], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
				setsockopt(sp[k], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
			}
			r->host_fd[i][j] = sp[0];
			ports.fd[i][j] = sp[1];
		}
	r->pid = fork();
	if (r->pid == 0) {
		for (int i = 0; i < n; i++)
			for (int j = 0; j < n; j++)
				if (i != j)
					close(r->host_fd[i][j]);
		_exit(link_run(p, &ports, r->stats) ? 1 : 0);
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (i != j)
				close(ports.fd[i][j]);
	while (__atomic_load_n(&r->stats->state, __ATOMIC_ACQUIRE) == LINK_STARTING)
		usleep(1000);
}

/* Stop the emulator and check it exited cleanly. */
static void rig_stop(struct rig *r)
{
	int status;
	kill(r->pid, SIGTERM);
	waitpid(r->pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fprintf(stderr, "emulator exit status %d (%s)\n", status, r->stats->errmsg);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 0; i < r->n; i++)
		for (int j = 0; j < r->n; j++)
			if (i != j)
				close(r->host_fd[i][j]);
	munmap(r->stats, sizeof *r->stats);
}

/* Build a fake IPv4 packet of len bytes from host src to host dst carrying seq. */
static void make_packet(unsigned char *buf, size_t len, int src, int dst, uint32_t seq)
{
	memset(buf, 0, len);
	buf[0] = 0x45;
	buf[12] = 198, buf[13] = 18, buf[14] = 0, buf[15] = (unsigned char)(src + 1);
	buf[16] = 198, buf[17] = 18, buf[18] = 0, buf[19] = (unsigned char)(dst + 1);
	memcpy(buf + 20, &seq, sizeof seq);
}

/* Send a packet from host i towards host j with seq (retrying while the socket is full). */
static void send_packet(struct rig *r, int i, int j, size_t len, uint32_t seq)
{
	unsigned char pkt[2048];
	make_packet(pkt, len, i, j, seq);
	while (write(r->host_fd[i][j], pkt, len) < 0 && errno == EAGAIN)
		usleep(100);
}

/* Receive packets on fd until count arrived or timeout_ms passed; record arrival times and sequence numbers. */
static int receive(int fd, int count, int timeout_ms, uint64_t *arrival, uint32_t *seqs, size_t off)
{
	int got = 0;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	static unsigned char buf[65536 + 64];
	while (got < count && now_ns() < deadline) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		poll(&pfd, 1, 10);
		ssize_t n;
		while (got < count && (n = read(fd, buf, sizeof buf)) > 0) {
			if (arrival)
				arrival[got] = now_ns();
			if (seqs)
				memcpy(&seqs[got], buf + off + 20, sizeof seqs[got]);
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
	c->got = receive(c->fd, c->count, c->timeout_ms, c->arr, c->seqs, 0);
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

/* Send count packets 0 -> 1 every gap_us and collect them; one-way delays in ms into ms[]. */
static int paced_run(struct rig *r, int count, int gap_us, double *ms)
{
	static struct collector col;
	uint64_t sent[256];
	collector_start(&col, r->host_fd[1][0], count, 3000);
	for (int i = 0; i < count; i++) {
		sent[i] = now_ns();
		send_packet(r, 0, 1, 100, (uint32_t)i);
		usleep((useconds_t)gap_us);
	}
	pthread_join(col.thread, NULL);
	for (int i = 0; i < col.got; i++) {
		ms[i] = (double)(col.arr[i] - sent[col.seqs[i] % 256]) / 1e6;
		if (col.seqs[i] != (uint32_t)i) {
			fprintf(stderr, "reordered: %u at %d\n", col.seqs[i], i);
			CHECK(col.seqs[i] == (uint32_t)i);
		}
	}
	return col.got;
}

/* A base profile: no shaping. */
static struct netem_profile base_profile(void)
{
	struct netem_profile p = {.limit_pkts = 100000};
	snprintf(p.name, sizeof p.name, "unit");
	return p;
}

/* Smallest and largest of v[0..n-1]. */
static void min_max(const double *v, int n, double *lo, double *hi)
{
	*lo = 1e30, *hi = 0;
	for (int i = 0; i < n; i++) {
		*lo = v[i] < *lo ? v[i] : *lo;
		*hi = v[i] > *hi ? v[i] : *hi;
	}
}

/* Delay: every packet arrives after the one-way delay, in order; counters count. */
static void test_delay(void)
{
	struct netem_profile p = base_profile();
	p.delay_ns = 20000000;
	struct rig r;
	rig_start(&r, &p, 2, 0);
	double ms[20], lo, hi;
	int got = paced_run(&r, 20, 1000, ms);
	min_max(ms, got, &lo, &hi);
	fprintf(stderr, "delay 20 ms: %d of 20 arrived after %.3f..%.3f ms\n", got, lo, hi);
	CHECK(got == 20);
	CHECK(lo >= 19.9 && hi < 40);
	usleep(20000); /* the emulator counts right after its write */
	CHECK(r.stats->packets[0][1] == 20 && r.stats->bytes[0][1] == 2000 && r.stats->frames[0][1] == 20);
	CHECK(r.stats->packets[1][0] == 0);
	rig_stop(&r);
}

/* Jitter: delays spread over delay +- jitter, never reordered. */
static void test_jitter(void)
{
	struct netem_profile p = base_profile();
	p.delay_ns = 10000000;
	p.jitter_ns = 5000000;
	struct rig r;
	rig_start(&r, &p, 2, 0);
	double ms[50], lo, hi;
	int got = paced_run(&r, 50, 2000, ms);
	min_max(ms, got, &lo, &hi);
	fprintf(stderr, "jitter 10 +- 5 ms: %d of 50 arrived after %.3f..%.3f ms\n", got, lo, hi);
	CHECK(got == 50);
	CHECK(lo >= 4.9 && lo < 9);
	CHECK(hi > 11 && hi < 40);
	rig_stop(&r);
}

/* The timed wait: at lan's delay (0.25 ms) no packet leaves more than two
 * wake-up allowances (0.1 ms: the read's and the timer's) early, and the
 * median is within 0.05 ms early and 0.1 ms late
 * (this includes the receiving thread's own wake-up; the RTT target, 5 % +
 * 0.05 ms, is the netem bench's to check on an idle machine). */
static void test_timed_wait(void)
{
	struct netem_profile p = base_profile();
	p.delay_ns = 250000;
	struct rig r;
	rig_start(&r, &p, 2, 0);
	double ms[200], lo, hi;
	paced_run(&r, 40, 2000, ms); /* warm-up: the emulator learns its wake-up latency */
	int got = paced_run(&r, 200, 2000, ms);
	min_max(ms, got, &lo, &hi);
	int below = 0;
	for (int i = 0; i < got; i++)
		below += ms[i] < 0.25;
	double med = 0;
	for (int i = 0; i < got; i++) { /* the median: the value with as many below as above */
		int lt = 0, le = 0;
		for (int k = 0; k < got; k++)
			lt += ms[k] < ms[i], le += ms[k] <= ms[i];
		if (lt <= got / 2 && le > got / 2)
			med = ms[i];
	}
	fprintf(stderr, "delay 0.25 ms: median %.3f ms, %.3f..%.3f, %d of %d early\n", med, lo, hi, below, got);
	CHECK(got == 200);
	CHECK(lo >= 0.15);
	CHECK(med >= 0.2 && med <= 0.35);
	rig_stop(&r);
}

/* Waiting for departures burns no CPU: 200 packets 1 ms apart on a 20 ms
 * delay (a spinning emulator used a quarter of a core here). */
static void test_idle_cpu(void)
{
	struct netem_profile p = base_profile();
	p.delay_ns = 20000000;
	struct rig r;
	rig_start(&r, &p, 2, 0);
	double ms[200];
	uint64_t t0 = now_ns();
	int got = paced_run(&r, 200, 1000, ms);
	uint64_t wall = now_ns() - t0;
	usleep(20000);
	double share = (double)r.stats->cpu_ns[0][1] / (double)wall;
	fprintf(stderr, "idle CPU: %.1f ms of CPU in %.1f ms (%.1f %%) for %d packets\n",
		(double)r.stats->cpu_ns[0][1] / 1e6, (double)wall / 1e6, share * 100, got);
	CHECK(got == 200);
	CHECK(r.stats->cpu_ns[0][1] > 0);
	CHECK(share < 0.10);
	rig_stop(&r);
}

/* Rate: 200 packets of 1250 bytes at 20 Mbit/s take 100 ms to serialize. */
static void test_rate(void)
{
	struct netem_profile p = base_profile();
	p.rate_bps = 20000000;
	struct rig r;
	rig_start(&r, &p, 2, 0);
	uint64_t arr[200];
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < 200; i++)
		send_packet(&r, 0, 1, 1250, i);
	int got = receive(r.host_fd[1][0], 200, 3000, arr, NULL, 0);
	double ms = got ? (double)(arr[got - 1] - t0) / 1e6 : 0;
	fprintf(stderr, "rate: %d of 200 packets in %.1f ms (want 100)\n", got, ms);
	CHECK(got == 200);
	CHECK(ms >= 99 && ms < 200);
	rig_stop(&r);
}

/* Loss: 30% of 3000 packets dropped (within 5 points), drops counted. */
static void test_loss(void)
{
	struct netem_profile p = base_profile();
	p.loss = 0.30;
	struct rig r;
	rig_start(&r, &p, 2, 0);
	int got = 0;
	for (uint32_t i = 0; i < 3000; i++) {
		send_packet(&r, 0, 1, 64, i);
		if (i % 20 == 19) /* drain as we go: a full socket would drop too */
			got += receive(r.host_fd[1][0], 3000, 2, NULL, NULL, 0);
	}
	got += receive(r.host_fd[1][0], 3000, 200, NULL, NULL, 0);
	usleep(20000);
	double lost = 1.0 - got / 3000.0;
	fprintf(stderr, "loss: %.3f lost (want 0.30), %llu drops counted\n", lost,
		(unsigned long long)r.stats->drops[0][1]);
	CHECK(lost > 0.25 && lost < 0.35);
	CHECK(r.stats->drops[0][1] + (uint64_t)got == 3000);
	rig_stop(&r);
}

/* Limit: a slow link with a 10-packet queue keeps only about 10 of a burst of 100. */
static void test_limit(void)
{
	struct netem_profile p = base_profile();
	p.rate_bps = 1000000;
	p.limit_pkts = 10;
	struct rig r;
	rig_start(&r, &p, 2, 0);
	for (uint32_t i = 0; i < 100; i++)
		send_packet(&r, 0, 1, 125, i);
	int got = receive(r.host_fd[1][0], 100, 300, NULL, NULL, 0);
	usleep(20000);
	fprintf(stderr, "limit: %d of 100 passed a 10-packet queue, %llu drops\n", got,
		(unsigned long long)r.stats->drops[0][1]);
	CHECK(got >= 10 && got <= 40);
	CHECK(r.stats->drops[0][1] >= 80);
	rig_stop(&r);
}

/* Only IPv4 is forwarded. */
static void test_unroutable(void)
{
	struct netem_profile p = base_profile();
	struct rig r;
	rig_start(&r, &p, 2, 0);
	unsigned char pkt[64];
	make_packet(pkt, sizeof pkt, 0, 1, 0);
	pkt[0] = 0x60; /* IPv6 */
	CHECK(write(r.host_fd[0][1], pkt, sizeof pkt) == sizeof pkt);
	CHECK(write(r.host_fd[0][1], pkt, 10) == 10); /* too short for IPv4 */
	for (int i = 0; i < 200 && r.stats->unroutable < 2; i++) /* up to 2 s on a loaded machine */
		usleep(10000);
	CHECK(r.stats->unroutable == 2);
	CHECK(receive(r.host_fd[1][0], 1, 50, NULL, NULL, 0) == 0);
	rig_stop(&r);
}

/* Three hosts: every direction has its own port and counters. */
static void test_three_hosts(void)
{
	struct netem_profile p = base_profile();
	p.delay_ns = 1000000;
	struct rig r;
	rig_start(&r, &p, 3, 0);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			if (i != j)
				send_packet(&r, i, j, 100 + 10 * i + j, (uint32_t)(10 * i + j));
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			uint32_t seq = 0;
			if (i == j)
				continue;
			/* host j reads what host i sent on its device towards i */
			CHECK(receive(r.host_fd[j][i], 1, 500, NULL, &seq, 0) == 1 && seq == (uint32_t)(10 * i + j));
		}
	usleep(20000);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			if (i != j)
				CHECK(r.stats->packets[i][j] == 1 && r.stats->bytes[i][j] == (uint64_t)(100 + 10 * i + j));
	rig_stop(&r);
}

/* A virtio-net header, an IPv4 header and a TCP header (doff 8: 32 bytes) for a
 * super-packet of payload bytes in segments of mss, carrying seq. */
static size_t make_gso(unsigned char *buf, size_t payload, unsigned mss, uint32_t seq)
{
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				   .hdr_len = 52, .gso_size = (uint16_t)mss, .csum_start = 20, .csum_offset = 16};
	size_t len = sizeof h + 20 + 32 + payload;
	make_packet(buf + sizeof h, len - sizeof h, 0, 1, seq);
	memcpy(buf, &h, sizeof h);
	buf[sizeof h + 9] = 6;         /* TCP */
	buf[sizeof h + 20 + 12] = 0x80; /* data offset 8 words */
	return len;
}

/* GSO: a 60000-byte super-packet with mss 8948 crosses in one piece, header
 * intact, counted as 7 wire packets with 7 sets of headers; the queue limit
 * counts its segments. */
static void test_gso(void)
{
	struct netem_profile p = base_profile();
	p.delay_ns = 1000000;
	p.rate_bps = 1000000000;
	p.limit_pkts = 10;
	struct rig r;
	rig_start(&r, &p, 2, 1);
	static unsigned char buf[65536 + 64], back[65536 + 64];
	size_t len = make_gso(buf, 60000, 8948, 7);
	CHECK(write(r.host_fd[0][1], buf, len) == (ssize_t)len);
	struct pollfd pfd = {.fd = r.host_fd[1][0], .events = POLLIN};
	poll(&pfd, 1, 1000);
	ssize_t n = read(r.host_fd[1][0], back, sizeof back);
	CHECK(n == (ssize_t)len && !memcmp(buf, back, len));
	usleep(20000);
	uint64_t wire = 20 + 32 + 60000 + 6 * (20 + 32);
	fprintf(stderr, "gso: %llu packets, %llu bytes (want 7, %llu), %llu frames\n",
		(unsigned long long)r.stats->packets[0][1], (unsigned long long)r.stats->bytes[0][1],
		(unsigned long long)wire, (unsigned long long)r.stats->frames[0][1]);
	CHECK(r.stats->packets[0][1] == 7 && r.stats->bytes[0][1] == wire && r.stats->frames[0][1] == 1);
	/* Two super-packets back to back: 7 + 7 segments exceed the 10-packet queue. */
	CHECK(write(r.host_fd[0][1], buf, len) == (ssize_t)len);
	CHECK(write(r.host_fd[0][1], buf, len) == (ssize_t)len);
	CHECK(receive(r.host_fd[1][0], 2, 300, NULL, NULL, 0) == 1);
	usleep(20000);
	CHECK(r.stats->drops[0][1] == 7);
	rig_stop(&r);
}

/* Run all tests. */
int main(void)
{
	test_delay();
	test_jitter();
	test_timed_wait();
	test_idle_cpu();
	test_rate();
	test_loss();
	test_limit();
	test_unroutable();
	test_three_hosts();
	test_gso();
	return check_done();
}
