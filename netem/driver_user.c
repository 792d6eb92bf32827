/* driver_user.c - the user driver: one TUN per host namespace, joined by the link emulator process. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "cmd.h"
#include "netem/topology_impl.h"

#define USER_TUN_NAME "ms-tun"
#define USER_START_TIMEOUT_NS 5000000000ULL
#define USER_STOP_TIMEOUT_NS 5000000000ULL
/* The TUN queue towards the emulator: long enough that a busy machine
 * delaying the emulator does not drop there (the profile's limit drops). */
#define USER_TUN_TXQUEUELEN "10000"
/* The emulator plays the network: it should not wait behind the workload. */
#define USER_EMULATOR_NICE (-10)

/* Argument of open_tun() run inside a namespace. */
struct tun_open {
	int fd;
	int errnum;
};

/* Create the TUN device in the current namespace; keep its fd. */
static int open_tun(void *arg)
{
	struct tun_open *to = arg;
	to->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (to->fd < 0) {
		to->errnum = errno;
		return -1;
	}
	struct ifreq ifr = {0};
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, USER_TUN_NAME);
	if (ioctl(to->fd, TUNSETIFF, &ifr)) {
		to->errnum = errno;
		close(to->fd);
		to->fd = -1;
		return -1;
	}
	return 0;
}

/* Map the shared counters page (create = 1 makes it). */
static int map_stats(struct topology *t, int create, struct err *e)
{
	snprintf(t->shm_name, sizeof t->shm_name, "/ms%d-link", (int)t->owner);
	int fd = shm_open(t->shm_name, create ? O_RDWR | O_CREAT | O_TRUNC : O_RDONLY, 0644);
	if (fd < 0)
		return err_errno(e, errno, "shm_open %s (is the topology still up?)", t->shm_name);
	if (create && ftruncate(fd, sizeof(struct link_stats))) {
		int er = errno;
		close(fd);
		return err_errno(e, er, "ftruncate %s", t->shm_name);
	}
	void *m = mmap(NULL, sizeof(struct link_stats), create ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	int er = errno;
	close(fd);
	if (m == MAP_FAILED)
		return err_errno(e, er, "mmap %s", t->shm_name);
	t->stats = m;
	return 0;
}

/* In the forked child: keep only the TUN fds, detach from the terminal's output, run the loop. */
static void user_child(struct topology *t, const int *tun_fds, pid_t parent)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (getppid() != parent) /* link_run() also stops when the parent process is gone */
		_exit(1);
	int devnull = open("/dev/null", O_RDWR);
	dup2(devnull, 0);
	dup2(devnull, 1);
	dup2(devnull, 2);
	for (int fd = 3; fd < 1024; fd++) {
		int keep = 0;
		for (int i = 0; i < t->nhosts; i++)
			keep |= fd == tun_fds[i];
		if (!keep)
			close(fd);
	}
	t->stats->pid = getpid();
	if (setpriority(PRIO_PROCESS, 0, USER_EMULATOR_NICE)) /* needs CAP_SYS_NICE; fine without */
		errno = 0;
	_exit(link_run(&t->prof, tun_fds, t->nhosts, t->stats) ? 1 : 0);
}

/* TUN devices, emulator process, addresses. */
int user_setup(struct topology *t, struct err *e)
{
	int tun_fds[TOPO_MAX_HOSTS];
	int n = 0, rc = -1;
	if (map_stats(t, 1, e))
		return -1;
	t->stats->magic = LINK_STATS_MAGIC;
	t->stats->nhosts = t->nhosts;
	for (; n < t->nhosts; n++) {
		struct tun_open to = {.fd = -1};
		if (topo_in_netns(t->hosts[n].netns, open_tun, &to, e)) {
			if (to.errnum)
				err_errno(e, to.errnum, "cannot create TUN device in %s (/dev/net/tun)", t->hosts[n].netns);
			goto out;
		}
		tun_fds[n] = to.fd;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		err_errno(e, errno, "fork of the link emulator");
		goto out;
	}
	if (pid == 0)
		user_child(t, tun_fds, parent);
	t->link_pid = pid;
	char mtu[16];
	snprintf(mtu, sizeof mtu, "%d", link_mtu());
	for (int i = 0; i < t->nhosts; i++) {
		char addr[32];
		snprintf(addr, sizeof addr, "%s/24", t->hosts[i].addr);
		if (cmd_run(e, NULL, 0, "ip", "-n", t->hosts[i].netns, "link", "set", USER_TUN_NAME, "mtu", mtu,
			    "txqueuelen", USER_TUN_TXQUEUELEN, "up", NULL) ||
		    cmd_run(e, NULL, 0, "ip", "-n", t->hosts[i].netns, "addr", "add", addr, "dev", USER_TUN_NAME, NULL))
			goto out;
	}
	unsigned long long deadline = now_ns() + USER_START_TIMEOUT_NS;
	while (__atomic_load_n(&t->stats->state, __ATOMIC_ACQUIRE) == LINK_STARTING && now_ns() < deadline)
		usleep(1000);
	if (__atomic_load_n(&t->stats->state, __ATOMIC_ACQUIRE) != LINK_RUNNING) {
		err_set(e, "link emulator did not start: %s", t->stats->errmsg[0] ? t->stats->errmsg : "timeout");
		goto out;
	}
	rc = 0;
out:
	for (int i = 0; i < n; i++)
		close(tun_fds[i]);
	return rc;
}

/* Map the counters page of a running topology (read only). */
int user_attach_stats(struct topology *t, struct err *e)
{
	return map_stats(t, 0, e);
}

/* Sum host 0's directions from the shared page. */
int user_counters(const struct topology *t, struct link_counters *c, struct err *e)
{
	const struct link_stats *s = t->stats;
	if (!s || s->magic != LINK_STATS_MAGIC)
		return err_set(e, "no link emulator counters (%s)", t->shm_name);
	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == LINK_FAILED)
		return err_set(e, "%s", s->errmsg);
	for (int j = 1; j < t->nhosts; j++) {
		c->packets[0] += __atomic_load_n(&s->packets[0][j], __ATOMIC_RELAXED);
		c->bytes[0] += __atomic_load_n(&s->bytes[0][j], __ATOMIC_RELAXED);
		c->drops[0] += __atomic_load_n(&s->drops[0][j], __ATOMIC_RELAXED);
		c->packets[1] += __atomic_load_n(&s->packets[j][0], __ATOMIC_RELAXED);
		c->bytes[1] += __atomic_load_n(&s->bytes[j][0], __ATOMIC_RELAXED);
		c->drops[1] += __atomic_load_n(&s->drops[j][0], __ATOMIC_RELAXED);
	}
	return 0;
}

/* Stop the emulator (owner only), unmap and remove the counters page. */
void user_teardown(struct topology *t)
{
	if (t->link_pid > 0 && !t->attached && t->owner == getpid()) {
		kill(t->link_pid, SIGTERM);
		unsigned long long deadline = now_ns() + USER_STOP_TIMEOUT_NS;
		int status;
		while (waitpid(t->link_pid, &status, WNOHANG) == 0) {
			if (now_ns() > deadline) {
				log_warn("link emulator (pid %d) ignored SIGTERM; killing it", (int)t->link_pid);
				kill(t->link_pid, SIGKILL);
				waitpid(t->link_pid, &status, 0);
				break;
			}
			usleep(1000);
		}
		t->link_pid = -1;
	}
	if (t->stats) {
		munmap(t->stats, sizeof *t->stats);
		t->stats = NULL;
	}
	if (!t->attached && t->shm_name[0] && t->owner == getpid())
		shm_unlink(t->shm_name);
}
