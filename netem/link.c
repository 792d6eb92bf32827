/* link.c - userspace link emulator: one thread per direction, device in, FIFO with loss, limit, rate, delay, device out. */
#include "netem/link.h"

#include <endian.h>
#include <errno.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

/* Frames read per wake-up before the due ones are written. */
#define LINK_READ_BATCH 64
/* Largest frame: a 64 KiB GSO super-packet and its virtio-net header
 * (below glibc's mmap threshold, so shrinking it with realloc is in place). */
#define LINK_FRAME_MAX (65536 + 64)
#define LINK_VNET_HDR_LEN ((int)sizeof(struct virtio_net_hdr))
/* The timer is armed this much before a departure at most: the measured
 * wake-up latency, capped so that no packet leaves much before its time. */
#define LINK_EARLY_MAX_NS 50000
/* How often a busy direction publishes its thread's CPU time. */
#define LINK_CPU_PUBLISH_NS 1000000ULL
/* How often the main thread checks that the parent process still lives. */
#define LINK_PARENT_CHECK_NS 200000000L

/* One frame waiting in a direction's FIFO. */
struct link_pkt {
	struct link_pkt *next;
	uint64_t depart_ns;
	uint32_t len;  /* bytes in data, with the virtio-net header */
	uint32_t segs; /* wire packets it stands for */
	uint64_t wire; /* wire bytes it stands for */
	unsigned char data[];
};

/* One direction (from host `from` to host `to`), owned by one thread. */
struct link_dir {
	int from, to;
	int in_fd, out_fd, timer_fd, stop_fd, vnet;
	int *stopping;           /* shared: 1 once the emulator stops */
	const struct netem_profile *p;
	struct link_stats *stats;
	struct link_pkt *head, *tail, *spare;
	uint64_t queued_segs;
	uint64_t link_free_ns;   /* when the bottleneck finishes the last packet */
	uint64_t last_depart_ns; /* keeps departures in order despite jitter */
	uint64_t rng;
	uint64_t early_ns;       /* measured timer wake-up latency */
	uint64_t armed_ns;       /* absolute expiry of the timer, 0 when disarmed */
	uint64_t slept_ns;       /* when the thread last went to sleep, if a frame woke it; else 0 */
	uint64_t cpu_published_ns;
	pthread_t thread;
};

static pthread_mutex_t link_fail_lock = PTHREAD_MUTEX_INITIALIZER;

/* MTU of the devices. */
int link_mtu(void)
{
	const char *s = getenv("MEMSYNC_LINK_MTU");
	int v = s ? atoi(s) : 0;
	return v >= 576 && v <= 65520 ? v : 9000;
}

/* Tell every direction to stop: the flag for busy threads, the eventfd for sleeping ones. */
static void link_stop(int *stopping, int stop_fd)
{
	uint64_t one = 1;
	__atomic_store_n(stopping, 1, __ATOMIC_RELEASE);
	ssize_t w = write(stop_fd, &one, sizeof one); /* fails only on a counter overflow: then it is readable */
	(void)w;
}

/* Super-packets only where loss is not applied: a lost one would take many packets with it. */
int link_allows_gso(const struct netem_profile *p)
{
	return !(p->loss > 0);
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

/* Record a fatal error in the shared page (the first one wins). */
static int link_fail(struct link_stats *stats, const char *what, int errnum)
{
	pthread_mutex_lock(&link_fail_lock);
	if (__atomic_load_n(&stats->state, __ATOMIC_ACQUIRE) != LINK_FAILED) {
		snprintf(stats->errmsg, sizeof stats->errmsg, "link emulator: %s: %s", what, strerror(errnum));
		__atomic_store_n(&stats->state, LINK_FAILED, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&link_fail_lock);
	return -1;
}

/* Wire packets and wire bytes of an IPv4 frame: a GSO super-packet counts
 * each segment with its own IP and TCP/UDP headers. */
static void link_frame_size(const struct virtio_net_hdr *h, const unsigned char *ip, size_t len, uint32_t *segs,
			    uint64_t *wire)
{
	*segs = 1;
	*wire = len;
	unsigned gso = h ? h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN : VIRTIO_NET_HDR_GSO_NONE;
	unsigned mss = h ? le16toh(h->gso_size) : 0;
	if (gso == VIRTIO_NET_HDR_GSO_NONE || !mss)
		return;
	size_t l3 = (size_t)(ip[0] & 0x0f) * 4, l4 = 8;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6)
		l4 = len >= l3 + 20 ? (size_t)(ip[l3 + 12] >> 4) * 4 : 20;
	if (len <= l3 + l4)
		return;
	size_t n = (len - l3 - l4 + mss - 1) / mss;
	*segs = (uint32_t)n;
	*wire = len + (n - 1) * (l3 + l4);
}

/* Apply loss, limit and rate to a frame read at now and queue it; 0, or -1 when dropped. */
static int link_enqueue(struct link_dir *d, struct link_pkt *pk, uint64_t now)
{
	const struct netem_profile *p = d->p;
	for (uint32_t s = 0; p->loss > 0 && s < pk->segs; s++)
		if (link_random(&d->rng) < p->loss)
			return -1;
	if (d->queued_segs && d->queued_segs + pk->segs > p->limit_pkts)
		return -1;
	uint64_t sent = now;
	if (p->rate_bps) {
		uint64_t start = d->link_free_ns > now ? d->link_free_ns : now;
		sent = start + (uint64_t)((double)pk->wire * 8e9 / (double)p->rate_bps);
		d->link_free_ns = sent;
	}
	int64_t jitter = 0;
	if (p->jitter_ns)
		jitter = (int64_t)((link_random(&d->rng) * 2.0 - 1.0) * (double)p->jitter_ns);
	uint64_t depart = sent + p->delay_ns;
	depart = jitter < 0 && (uint64_t)-jitter > depart ? 0 : depart + (uint64_t)jitter;
	if (depart < d->last_depart_ns)
		depart = d->last_depart_ns;
	d->last_depart_ns = depart;
	pk->depart_ns = depart;
	pk->next = NULL;
	if (d->tail)
		d->tail->next = pk;
	else
		d->head = pk;
	d->tail = pk;
	d->queued_segs += pk->segs;
	return 0;
}

/* Write every frame due by `due`. */
static void link_deliver(struct link_dir *d, uint64_t due)
{
	struct link_stats *st = d->stats;
	while (d->head && d->head->depart_ns <= due) {
		struct link_pkt *pk = d->head;
		d->head = pk->next;
		if (!d->head)
			d->tail = NULL;
		d->queued_segs -= pk->segs;
		if (write(d->out_fd, pk->data, pk->len) == (ssize_t)pk->len) {
			__atomic_add_fetch(&st->packets[d->from][d->to], pk->segs, __ATOMIC_RELAXED);
			__atomic_add_fetch(&st->bytes[d->from][d->to], pk->wire, __ATOMIC_RELAXED);
			__atomic_add_fetch(&st->frames[d->from][d->to], 1, __ATOMIC_RELAXED);
		} else {
			__atomic_add_fetch(&st->drops[d->from][d->to], pk->segs, __ATOMIC_RELAXED);
		}
		free(pk);
	}
}

/* Read one frame into a buffer of its size; 1, 0 when nothing is waiting, -1 on error. */
static int link_read_one(struct link_dir *d, struct link_pkt **out)
{
	if (!d->spare && !(d->spare = malloc(sizeof *d->spare + LINK_FRAME_MAX)))
		return link_fail(d->stats, "malloc", ENOMEM);
	ssize_t n = read(d->in_fd, d->spare->data, LINK_FRAME_MAX);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : link_fail(d->stats, "read from the link device", errno);
	if (n == 0)
		return link_fail(d->stats, "read from the link device", EPIPE);
	struct link_pkt *pk = realloc(d->spare, sizeof *pk + (size_t)n); /* shrinks in place */
	if (!pk)
		return link_fail(d->stats, "realloc", ENOMEM);
	d->spare = NULL;
	pk->len = (uint32_t)n;
	*out = pk;
	return 1;
}

/* Read up to a batch of frames and queue them; *drained = 1 when the device
 * has no more. The count read, or -1. */
static int link_read(struct link_dir *d, int *drained)
{
	int hdr = d->vnet ? LINK_VNET_HDR_LEN : 0;
	*drained = 0;
	for (int k = 0; k < LINK_READ_BATCH; k++) {
		struct link_pkt *pk;
		int rc = link_read_one(d, &pk);
		if (rc <= 0) {
			*drained = 1;
			return rc < 0 ? -1 : k;
		}
		const unsigned char *ip = pk->data + hdr;
		size_t len = pk->len >= (uint32_t)hdr ? pk->len - (uint32_t)hdr : 0;
		if (len < 20 || (ip[0] >> 4) != 4) {
			__atomic_add_fetch(&d->stats->unroutable, 1, __ATOMIC_RELAXED);
			free(pk);
			continue;
		}
		link_frame_size(d->vnet ? (const struct virtio_net_hdr *)pk->data : NULL, ip, len, &pk->segs, &pk->wire);
		uint64_t now = now_ns(), arrived = now;
		if (d->slept_ns) {
			/* The frame that woke the thread arrived one wake-up latency
			 * ago (as the timer's), not before the thread went to sleep. */
			arrived = now - d->early_ns > d->slept_ns ? now - d->early_ns : d->slept_ns;
			d->slept_ns = 0;
		}
		if (link_enqueue(d, pk, arrived)) {
			__atomic_add_fetch(&d->stats->drops[d->from][d->to], pk->segs, __ATOMIC_RELAXED);
			free(pk);
		}
	}
	return LINK_READ_BATCH;
}

/* Publish this thread's CPU time in the shared page. */
static void link_publish_cpu(struct link_dir *d, uint64_t now)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return;
	__atomic_store_n(&d->stats->cpu_ns[d->from][d->to], (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec,
			 __ATOMIC_RELAXED);
	d->cpu_published_ns = now;
}

/* Arm the timer for the head's departure (less the wake-up latency), or disarm it. */
static int link_arm(struct link_dir *d)
{
	uint64_t at = 0;
	if (d->head)
		at = d->head->depart_ns > d->early_ns + 1 ? d->head->depart_ns - d->early_ns : 1;
	if (at == d->armed_ns)
		return 0;
	struct itimerspec its = {.it_value = {.tv_sec = (time_t)(at / 1000000000ULL), .tv_nsec = (long)(at % 1000000000ULL)}};
	if (timerfd_settime(d->timer_fd, TFD_TIMER_ABSTIME, &its, NULL))
		return link_fail(d->stats, "timerfd_settime", errno);
	d->armed_ns = at;
	return 0;
}

/* Learn the wake-up latency from one sample (a timer expiry the thread slept
 * until): down fast, up slowly, so that the estimate follows the usual
 * latency rather than the spikes of a loaded machine. */
static void link_learn_latency(struct link_dir *d, uint64_t late)
{
	int64_t sample = late > LINK_EARLY_MAX_NS ? LINK_EARLY_MAX_NS : (int64_t)late, est = (int64_t)d->early_ns;
	est += (sample - est) / (sample < est ? 4 : 16);
	d->early_ns = est < 0 ? 0 : (uint64_t)est;
}

/* Sleep until the device has a frame, the timer fires or the emulator stops; 1 = stop, -1 = error. */
static int link_wait(struct link_dir *d)
{
	struct pollfd pfd[3] = {
		{.fd = d->in_fd, .events = POLLIN}, {.fd = d->timer_fd, .events = POLLIN}, {.fd = d->stop_fd, .events = POLLIN},
	};
	uint64_t slept_at = now_ns(), armed = d->armed_ns;
	if (poll(pfd, 3, -1) < 0)
		return errno == EINTR ? 0 : link_fail(d->stats, "poll", errno);
	if (pfd[2].revents)
		return 1;
	if (pfd[0].revents & (POLLERR | POLLNVAL))
		return link_fail(d->stats, "link device gone", EIO);
	if (pfd[0].revents & POLLIN)
		d->slept_ns = slept_at;
	if (pfd[1].revents & POLLIN) {
		uint64_t expirations;
		if (read(d->timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
			return link_fail(d->stats, "read timerfd", errno);
		d->armed_ns = 0;
		uint64_t now = now_ns();
		if (slept_at < armed && now >= armed && !(pfd[0].revents & POLLIN))
			link_learn_latency(d, now - armed);
	}
	return 0;
}

/* A direction's thread: read, queue, deliver what is due, sleep until the next event. */
static void *link_dir_main(void *arg)
{
	struct link_dir *d = arg;
	char name[16];
	snprintf(name, sizeof name, "link %d>%d", d->from, d->to);
	prctl(PR_SET_NAME, name);
	while (!__atomic_load_n(d->stopping, __ATOMIC_ACQUIRE)) {
		int drained;
		if (link_read(d, &drained) < 0)
			break;
		uint64_t now = now_ns();
		link_deliver(d, now + d->early_ns);
		if (now - d->cpu_published_ns >= LINK_CPU_PUBLISH_NS || (drained && !d->head))
			link_publish_cpu(d, now);
		if (!drained)
			continue;
		if (link_arm(d) || link_wait(d))
			break;
	}
	link_publish_cpu(d, now_ns());
	link_stop(d->stopping, d->stop_fd); /* an error in one direction stops every direction */
	return NULL;
}

/* Free what a direction still holds. */
static void link_dir_free(struct link_dir *d)
{
	while (d->head) {
		struct link_pkt *pk = d->head;
		d->head = pk->next;
		free(pk);
	}
	free(d->spare);
	if (d->timer_fd >= 0)
		close(d->timer_fd);
}

/* Wait for SIGTERM/SIGINT, a failed direction, or the parent's exit. */
static void link_supervise(const sigset_t *sigs, struct link_stats *stats, int stop_fd)
{
	pid_t parent = getppid();
	const struct timespec tick = {.tv_nsec = LINK_PARENT_CHECK_NS};
	for (;;) {
		if (sigtimedwait(sigs, NULL, &tick) > 0)
			return;
		struct pollfd pfd = {.fd = stop_fd, .events = POLLIN};
		if (getppid() != parent || __atomic_load_n(&stats->state, __ATOMIC_ACQUIRE) == LINK_FAILED ||
		    poll(&pfd, 1, 0) > 0)
			return; /* the owner died without stopping us (crash, SIGKILL), or a direction failed */
	}
}

/* Start one thread per direction, wait for the stop, join them. */
int link_run(const struct netem_profile *p, const struct link_ports *ports, struct link_stats *stats)
{
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_TIMERSLACK, 1UL);
	prctl(PR_SET_NAME, "memsync-link");

	int n = ports->nhosts, ndirs = 0, rc = 0, stopping = 0;
	int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct link_dir *dirs = calloc((size_t)(n * n), sizeof *dirs);
	if (stop_fd < 0 || !dirs) {
		free(dirs);
		return link_fail(stats, "eventfd or calloc", errno ? errno : ENOMEM);
	}
	uint64_t seed = now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
	for (int i = 0; i < n && !rc; i++)
		for (int j = 0; j < n && !rc; j++) {
			if (i == j)
				continue;
			struct link_dir *d = &dirs[ndirs];
			*d = (struct link_dir){.from = i, .to = j, .in_fd = ports->fd[i][j], .out_fd = ports->fd[j][i],
					       .stop_fd = stop_fd, .stopping = &stopping, .vnet = ports->vnet_hdr, .p = p, .stats = stats,
					       .rng = seed + 0x632BE59BD9B4E019ULL * (uint64_t)(ndirs + 1)};
			d->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
			if (d->timer_fd < 0) {
				rc = link_fail(stats, "timerfd_create", errno);
				break;
			}
			int er = pthread_create(&d->thread, NULL, link_dir_main, d);
			if (er) {
				close(d->timer_fd);
				rc = link_fail(stats, "pthread_create", er);
				break;
			}
			ndirs++;
		}
	if (!rc) {
		__atomic_store_n(&stats->state, LINK_RUNNING, __ATOMIC_RELEASE);
		link_supervise(&sigs, stats, stop_fd);
	}
	link_stop(&stopping, stop_fd);
	for (int k = 0; k < ndirs; k++) {
		pthread_join(dirs[k].thread, NULL);
		link_dir_free(&dirs[k]);
	}
	free(dirs);
	close(stop_fd);
	if (__atomic_load_n(&stats->state, __ATOMIC_ACQUIRE) == LINK_FAILED)
		return -1;
	__atomic_store_n(&stats->state, LINK_STOPPED, __ATOMIC_RELEASE);
	return rc;
}
