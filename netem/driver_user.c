/*
 * driver_user.c - the user driver: TUN devices at both ends of every link
 * of the mesh, joined by the link emulator process (link.c). A profile that
 * shapes nothing gets plain veth pairs instead (no emulator in the path).
 */
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
#include "netem/driver.h"
#include "netem/link.h"

#define USER_START_TIMEOUT_NS 5000000000ULL
#define USER_STOP_TIMEOUT_NS 5000000000ULL
/* The TUN queue towards the emulator: long enough that a busy machine
 * delaying the emulator does not drop there (the profile's limit drops). */
#define USER_TUN_TXQUEUELEN "10000"
/* The emulator plays the network: it should not wait behind the workload. */
#define USER_EMULATOR_NICE (-10)

/* The driver's state of one topology. */
struct user_state {
	pid_t link_pid;          /* the emulator process (owner) */
	struct link_stats *stats;/* shared counters page */
	char shm_name[64];       /* "/ms<owner>-link" */
};

/* Argument of open_tun() run inside a namespace. */
struct tun_open {
	char name[IFNAMSIZ];
	unsigned offloads; /* TUNSETOFFLOAD flags */
	int fd;
	int errnum;
	const char *what;
};

/* Create a TUN device with a virtio-net header in the current namespace; keep its fd. */
static int open_tun(void *arg)
{
	struct tun_open *to = arg;
	to->what = "open /dev/net/tun";
	to->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (to->fd < 0) {
		to->errnum = errno;
		return -1;
	}
	struct ifreq ifr = {0};
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", to->name);
	to->what = "TUNSETIFF";
	if (ioctl(to->fd, TUNSETIFF, &ifr) == 0) {
		to->what = "TUNSETOFFLOAD";
		if (ioctl(to->fd, TUNSETOFFLOAD, (unsigned long)to->offloads) == 0)
			return 0;
	}
	to->errnum = errno;
	close(to->fd);
	to->fd = -1;
	return -1;
}

/* Map the shared counters page (create = 1 makes it). */
static int map_stats(const struct link_ctx *c, struct user_state *u, int create, struct err *e)
{
	snprintf(u->shm_name, sizeof u->shm_name, "/ms%d-link", (int)c->owner);
	int fd = shm_open(u->shm_name, create ? O_RDWR | O_CREAT | O_TRUNC : O_RDONLY, 0644);
	if (fd < 0)
		return err_errno(e, errno, "shm_open %s (is the topology still up?)", u->shm_name);
	if (create && ftruncate(fd, sizeof(struct link_stats))) {
		int er = errno;
		close(fd);
		return err_errno(e, er, "ftruncate %s", u->shm_name);
	}
	void *m = mmap(NULL, sizeof(struct link_stats), create ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	int er = errno;
	close(fd);
	if (m == MAP_FAILED)
		return err_errno(e, er, "mmap %s", u->shm_name);
	u->stats = m;
	return 0;
}

/* In the forked child: keep only the devices' fds, detach from the terminal's output, run the emulator. */
static void user_child(const struct link_ctx *c, struct link_stats *stats, const struct link_ports *ports,
		       pid_t parent)
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
		for (int i = 0; i < c->nhosts; i++)
			for (int j = 0; j < c->nhosts; j++)
				keep |= fd == ports->fd[i][j];
		if (!keep)
			close(fd);
	}
	stats->pid = getpid();
	if (setpriority(PRIO_PROCESS, 0, USER_EMULATOR_NICE)) /* needs CAP_SYS_NICE; fine without */
		errno = 0;
	_exit(link_run(c->prof, ports, stats) ? 1 : 0);
}

/* Create the TUN device "v<j>" in host i. */
static int user_tun(const struct link_ctx *c, int i, int j, struct link_ports *ports, struct err *e)
{
	struct tun_open to = {.fd = -1, .offloads = TUN_F_CSUM};
	if (link_allows_gso(c->prof))
		to.offloads |= TUN_F_TSO4 | TUN_F_TSO6;
	snprintf(to.name, sizeof to.name, "v%d", j);
	if (netns_run(c->hosts[i].netns, open_tun, &to, e)) {
		if (to.errnum)
			err_errno(e, to.errnum, "cannot create TUN device %s in %s (%s)", to.name, c->hosts[i].netns,
				  to.what);
		return -1;
	}
	ports->fd[i][j] = to.fd;
	return 0;
}

/* The emulated mesh: TUN devices, the emulator process, addresses. */
static int user_setup_emulator(struct link_ctx *c, struct user_state *u, struct err *e)
{
	struct link_ports ports = {.nhosts = c->nhosts, .vnet_hdr = 1};
	memset(ports.fd, -1, sizeof ports.fd);
	int rc = -1;
	if (map_stats(c, u, 1, e))
		return -1;
	u->stats->magic = LINK_STATS_MAGIC;
	u->stats->nhosts = c->nhosts;
	for (int i = 0; i < c->nhosts; i++)
		for (int j = 0; j < c->nhosts; j++)
			if (i != j && user_tun(c, i, j, &ports, e))
				goto out;
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		err_errno(e, errno, "fork of the link emulator");
		goto out;
	}
	if (pid == 0)
		user_child(c, u->stats, &ports, parent);
	u->link_pid = pid;
	for (int i = 0; i < c->nhosts; i++)
		for (int j = 0; j < c->nhosts; j++)
			if (i != j && mesh_dev_up(c, i, j, USER_TUN_TXQUEUELEN, e))
				goto out;
	unsigned long long deadline = now_ns() + USER_START_TIMEOUT_NS;
	while (__atomic_load_n(&u->stats->state, __ATOMIC_ACQUIRE) == LINK_STARTING && now_ns() < deadline)
		usleep(1000);
	if (__atomic_load_n(&u->stats->state, __ATOMIC_ACQUIRE) != LINK_RUNNING) {
		err_set(e, "link emulator did not start: %s", u->stats->errmsg[0] ? u->stats->errmsg : "timeout");
		goto out;
	}
	rc = 0;
out:
	for (int i = 0; i < c->nhosts; i++)
		for (int j = 0; j < c->nhosts; j++)
			if (ports.fd[i][j] >= 0)
				close(ports.fd[i][j]);
	return rc;
}

/* Veth pairs for an unshaped profile, else the emulator. */
static int user_setup(struct link_ctx *c, struct err *e)
{
	if (!profile_shapes(c->prof))
		return mesh_veth(c, 0, e);
	struct user_state *u = calloc(1, sizeof *u);
	if (!u)
		return err_errno(e, errno, "calloc");
	u->link_pid = -1;
	c->priv = u;
	return user_setup_emulator(c, u, e);
}

/* Map the counters page of a running emulator (read only). */
static int user_attach_stats(struct link_ctx *c, struct err *e)
{
	if (!profile_shapes(c->prof))
		return 0;
	struct user_state *u = calloc(1, sizeof *u);
	if (!u)
		return err_errno(e, errno, "calloc");
	u->link_pid = -1;
	c->priv = u;
	return map_stats(c, u, 0, e);
}

/* Sum host 0's directions from the shared page (or the veths' kernel counters). */
static int user_counters(const struct link_ctx *c, struct link_counters *out, struct err *e)
{
	if (!profile_shapes(c->prof))
		return mesh_counters(c, out, e);
	const struct user_state *u = c->priv;
	const struct link_stats *s = u ? u->stats : NULL;
	if (!s || s->magic != LINK_STATS_MAGIC)
		return err_set(e, "no link emulator counters (%s)", u ? u->shm_name : "not set up");
	if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == LINK_FAILED)
		return err_set(e, "%s", s->errmsg);
	for (int j = 1; j < c->nhosts; j++) {
		out->packets[0] += __atomic_load_n(&s->packets[0][j], __ATOMIC_RELAXED);
		out->bytes[0] += __atomic_load_n(&s->bytes[0][j], __ATOMIC_RELAXED);
		out->drops[0] += __atomic_load_n(&s->drops[0][j], __ATOMIC_RELAXED);
		out->cpu_ns[0] += __atomic_load_n(&s->cpu_ns[0][j], __ATOMIC_RELAXED);
		out->packets[1] += __atomic_load_n(&s->packets[j][0], __ATOMIC_RELAXED);
		out->bytes[1] += __atomic_load_n(&s->bytes[j][0], __ATOMIC_RELAXED);
		out->drops[1] += __atomic_load_n(&s->drops[j][0], __ATOMIC_RELAXED);
		out->cpu_ns[1] += __atomic_load_n(&s->cpu_ns[j][0], __ATOMIC_RELAXED);
	}
	out->cpu_known = 1;
	return 0;
}

/* Stop the emulator process, waiting for it. */
static void user_stop_emulator(struct user_state *u)
{
	kill(u->link_pid, SIGTERM);
	unsigned long long deadline = now_ns() + USER_STOP_TIMEOUT_NS;
	int status;
	while (waitpid(u->link_pid, &status, WNOHANG) == 0) {
		if (now_ns() > deadline) {
			log_warn("link emulator (pid %d) ignored SIGTERM; killing it", (int)u->link_pid);
			kill(u->link_pid, SIGKILL);
			waitpid(u->link_pid, &status, 0);
			break;
		}
		usleep(1000);
	}
	u->link_pid = -1;
}

/* Stop the emulator (owner only), unmap and remove the counters page. */
static void user_teardown(struct link_ctx *c)
{
	struct user_state *u = c->priv;
	if (!u)
		return;
	int owner = !c->attached && c->owner == getpid();
	if (u->link_pid > 0 && owner)
		user_stop_emulator(u);
	if (u->stats)
		munmap(u->stats, sizeof *u->stats);
	if (owner && u->shm_name[0])
		shm_unlink(u->shm_name);
	free(u);
	c->priv = NULL;
}

/* "emulator", or "veth" when the profile shapes nothing. */
static const char *user_path(const struct link_ctx *c)
{
	return profile_shapes(c->prof) ? "emulator" : "veth";
}

/* Can this process create TUN devices with a virtio-net header? */
static int user_available(char *why, size_t len)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "cannot open /dev/net/tun: %s", strerror(errno));
		return 0;
	}
	unsigned features = 0;
	int ok = !ioctl(fd, TUNGETFEATURES, &features) && (features & IFF_VNET_HDR);
	if (!ok)
		snprintf(why, len, "TUN devices here have no virtio-net header (IFF_VNET_HDR)");
	close(fd);
	return ok;
}

const struct link_driver link_driver_user = {
	.name = "user",
	.summary = "TUN devices and a userspace link emulator, one thread per direction (needs /dev/net/tun)",
	.namespaces = 1,
	.applies_profile = 1,
	.available = user_available,
	.setup = user_setup,
	.attach_stats = user_attach_stats,
	.counters = user_counters,
	.path = user_path,
	.teardown = user_teardown,
};
