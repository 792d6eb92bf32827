/* link.c - userspace link emulator: TUN in, per-direction FIFO with loss, limit, rate, delay, TUN out. */
#include "netem/link.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define LINK_READ_BATCH 256
#define LINK_BUF_SIZE 65536
#define LINK_IDLE_POLL_NS 1000000000ULL
/* A departure closer than this is awaited by polling without sleeping:
 * waking from a timer costs tens of microseconds in a VM. */
#define LINK_SPIN_NS 250000ULL

/* One packet waiting in a direction's FIFO. */
struct link_pkt {
	struct link_pkt *next;
	uint64_t depart_ns;
	uint32_t len;
	unsigned char data[];
};

/* One direction (from host i to host j). */
struct link_dir {
	struct link_pkt *head, *tail;
	uint64_t queued;
	uint64_t link_free_ns;   /* when the bottleneck finishes the last packet */
	uint64_t last_depart_ns; /* keeps departures in order despite jitter */
};

static volatile sig_atomic_t link_stop;

/* SIGTERM/SIGINT: finish the loop. */
static void link_on_signal(int sig)
{
	(void)sig;
	link_stop = 1;
}

/* MTU of the TUN devices. */
int link_mtu(void)
{
	const char *s = getenv("MEMSYNC_LINK_MTU");
	int v = s ? atoi(s) : 0;
	return v >= 576 && v <= 65520 ? v : 9000;
}

/* xorshift64* pseudo-random numbers, uniform in [0,1). */
static double link_random(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Destination host of an IPv4 packet (198.18.0.<i+1>), or -1. */
static int link_dest_host(const unsigned char *pkt, size_t len, int nhosts)
{
	if (len < 20 || (pkt[0] >> 4) != 4)
		return -1;
	if (pkt[16] != 198 || pkt[17] != 18 || pkt[18] != 0)
		return -1;
	int h = pkt[19] - 1;
	return h >= 0 && h < nhosts ? h : -1;
}

/* Apply loss, limit and rate to one packet and queue it; returns 0 or -1 (dropped). */
static int link_enqueue(struct link_dir *d, const struct netem_profile *p, const unsigned char *buf, size_t len,
			uint64_t now, uint64_t *rng)
{
	if (p->loss > 0 && link_random(rng) < p->loss)
		return -1;
	if (d->queued >= p->limit_pkts)
		return -1;
	struct link_pkt *pk = malloc(sizeof *pk + len);
	if (!pk)
		return -1;
	memcpy(pk->data, buf, len);
	pk->len = (uint32_t)len;
	pk->next = NULL;
	uint64_t sent = now;
	if (p->rate_bps) {
		uint64_t start = d->link_free_ns > now ? d->link_free_ns : now;
		sent = start + (uint64_t)((double)len * 8e9 / (double)p->rate_bps);
		d->link_free_ns = sent;
	}
	int64_t jitter = 0;
	if (p->jitter_ns)
		jitter = (int64_t)((link_random(rng) * 2.0 - 1.0) * (double)p->jitter_ns);
	uint64_t depart = sent + p->delay_ns;
	depart = jitter < 0 && (uint64_t)-jitter > depart ? 0 : depart + (uint64_t)jitter;
	if (depart < d->last_depart_ns)
		depart = d->last_depart_ns;
	d->last_depart_ns = depart;
	pk->depart_ns = depart;
	if (d->tail)
		d->tail->next = pk;
	else
		d->head = pk;
	d->tail = pk;
	d->queued++;
	return 0;
}

/* Record a fatal error in the shared page. */
static int link_fail(struct link_stats *stats, const char *what, int errnum)
{
	snprintf(stats->errmsg, sizeof stats->errmsg, "link emulator: %s: %s", what, strerror(errnum));
	__atomic_store_n(&stats->state, LINK_FAILED, __ATOMIC_RELEASE);
	return -1;
}

/* Write every packet whose time has come; returns the earliest pending departure (or UINT64_MAX). */
static uint64_t link_deliver_due(struct link_dir dirs[][TOPO_MAX_HOSTS], int nhosts, const int *tun_fds,
				 struct link_stats *stats, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	for (int i = 0; i < nhosts; i++)
		for (int j = 0; j < nhosts; j++) {
			struct link_dir *d = &dirs[i][j];
			while (d->head && d->head->depart_ns <= now) {
				struct link_pkt *pk = d->head;
				d->head = pk->next;
				if (!d->head)
					d->tail = NULL;
				d->queued--;
				if (write(tun_fds[j], pk->data, pk->len) == (ssize_t)pk->len) {
					__atomic_add_fetch(&stats->packets[i][j], 1, __ATOMIC_RELAXED);
					__atomic_add_fetch(&stats->bytes[i][j], pk->len, __ATOMIC_RELAXED);
				} else {
					__atomic_add_fetch(&stats->drops[i][j], 1, __ATOMIC_RELAXED);
				}
				free(pk);
			}
			if (d->head && d->head->depart_ns < next)
				next = d->head->depart_ns;
		}
	return next;
}

/* Read what host i sent (up to a batch) and queue it per destination. */
static int link_read_host(int i, struct link_dir dirs[][TOPO_MAX_HOSTS], const struct netem_profile *p,
			  const int *tun_fds, int nhosts, struct link_stats *stats, unsigned char *buf, uint64_t *rng)
{
	for (int k = 0; k < LINK_READ_BATCH; k++) {
		ssize_t n = read(tun_fds[i], buf, LINK_BUF_SIZE);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return link_fail(stats, "read from TUN", errno);
		}
		int j = link_dest_host(buf, (size_t)n, nhosts);
		if (j < 0 || j == i) {
			__atomic_add_fetch(&stats->unroutable, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (link_enqueue(&dirs[i][j], p, buf, (size_t)n, now_ns(), rng))
			__atomic_add_fetch(&stats->drops[i][j], 1, __ATOMIC_RELAXED);
	}
	return 0;
}

/* Is any packet waiting in any direction? */
static int link_any_queued(struct link_dir dirs[][TOPO_MAX_HOSTS], int nhosts)
{
	for (int i = 0; i < nhosts; i++)
		for (int j = 0; j < nhosts; j++)
			if (dirs[i][j].head)
				return 1;
	return 0;
}

/* The emulator main loop. */
int link_run(const struct netem_profile *p, const int *tun_fds, int nhosts, struct link_stats *stats)
{
	static struct link_dir dirs[TOPO_MAX_HOSTS][TOPO_MAX_HOSTS];
	struct sigaction sa = {.sa_handler = link_on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_TIMERSLACK, 1UL);
	prctl(PR_SET_NAME, "memsync-link");

	unsigned char *buf = malloc(LINK_BUF_SIZE);
	if (!buf)
		return link_fail(stats, "malloc", ENOMEM);
	uint64_t rng = now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
	struct pollfd pfd[TOPO_MAX_HOSTS];
	for (int i = 0; i < nhosts; i++)
		pfd[i] = (struct pollfd){.fd = tun_fds[i], .events = POLLIN};
	__atomic_store_n(&stats->state, LINK_RUNNING, __ATOMIC_RELEASE);

	int rc = 0;
	pid_t parent = getppid();
	unsigned loops = 0;
	while (!link_stop) {
		/* The owner died without stopping us (crash, SIGKILL): stop too. */
		if ((++loops & 1023) == 0 || !link_any_queued(dirs, nhosts)) {
			if (getppid() != parent)
				break;
		}
		uint64_t now = now_ns();
		uint64_t next = link_deliver_due(dirs, nhosts, tun_fds, stats, now);
		uint64_t wait = next == UINT64_MAX ? LINK_IDLE_POLL_NS : (next > now ? next - now : 0);
		if (wait > LINK_IDLE_POLL_NS)
			wait = LINK_IDLE_POLL_NS;
		if (wait <= LINK_SPIN_NS)
			wait = 0;
		else
			wait -= LINK_SPIN_NS;
		struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ULL), .tv_nsec = (long)(wait % 1000000000ULL)};
		int n = ppoll(pfd, (nfds_t)nhosts, &ts, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = link_fail(stats, "ppoll", errno);
			break;
		}
		for (int i = 0; i < nhosts && n > 0; i++) {
			if (pfd[i].revents & (POLLERR | POLLNVAL)) {
				rc = link_fail(stats, "TUN device gone", EIO);
				link_stop = 1;
				break;
			}
			if ((pfd[i].revents & POLLIN) &&
			    link_read_host(i, dirs, p, tun_fds, nhosts, stats, buf, &rng)) {
				rc = -1;
				link_stop = 1;
				break;
			}
		}
	}
	for (int i = 0; i < nhosts; i++)
		for (int j = 0; j < nhosts; j++)
			while (dirs[i][j].head) {
				struct link_pkt *pk = dirs[i][j].head;
				dirs[i][j].head = pk->next;
				free(pk);
			}
	free(buf);
	if (!rc)
		__atomic_store_n(&stats->state, LINK_STOPPED, __ATOMIC_RELEASE);
	return rc;
}
