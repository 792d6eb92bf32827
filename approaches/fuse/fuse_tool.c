/*
 * fuse_tool.c - memsync-fuse: the fuse approach's two sides on the command
 * line, for tests that need more than a scenario gives (a second writer
 * changing the remote copy under a live mount).
 *
 *   memsync-fuse serve --size SIZE [--seed N] [--addr A] [--port P] [--ctl-port C] [-o K=V]...
 *       the remote side (version-0 content, NBD, change notices); prints
 *       "port P ctl C" once it serves; runs until SIGTERM/SIGINT
 *   memsync-fuse mount --dir DIR --size SIZE --port P [--addr A] [--ctl-port C] [-o K=V]...
 *       the local side (the approach's open()): mounts under DIR, prints the
 *       file's path, runs until SIGTERM/SIGINT, then unmounts
 *   memsync-fuse write --ctl A:C --offset OFF --length LEN [--seed N] [--version V]
 *       another writer on the remote: writes the content model's version V
 *       of those blocks through the remote side, which announces the change
 *   memsync-fuse watch FILE --offset OFF --length LEN --from V1 --to V2 [--seed N] [--timeout S]
 *       maps FILE MAP_SHARED, checks the range holds version V1, prints
 *       "ready", then reads it through the mapping until it holds V2
 *       (exit 0, "changed after N ms") or the timeout passes (exit 1)
 * Exit codes: 0 ok, 1 failure, 2 bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "approach.h"
#include "clock.h"
#include "content.h"
#include "fuse_ctl.h"
#include "log.h"
#include "units.h"

extern const struct approach_ops fuse_ops;

/* The command line's values. */
struct args {
	uint64_t size, seed, off, len, timeout_s;
	int port, ctl_port;
	uint32_t version, from, to;
	const char *addr, *dir, *ctl, *file;
	struct scenario sc;
};

/* Print usage and return 2. */
static int usage(void)
{
	fprintf(stderr, "usage: memsync-fuse serve --size SIZE [--seed N] [--addr A] [--port P] [--ctl-port C] [-o K=V]...\n"
			"       memsync-fuse mount --dir DIR --size SIZE --port P [--addr A] [--ctl-port C] [-o K=V]...\n"
			"       memsync-fuse write --ctl A:C --offset OFF --length LEN [--seed N] [--version V]\n"
			"       memsync-fuse watch FILE --offset OFF --length LEN --from V1 --to V2 [--seed N] [--timeout S]\n");
	return 2;
}

/* A number or size argument. */
static int num(const char *s, uint64_t *out)
{
	struct err e = {0};
	if (parse_size(s, out, &e)) {
		fprintf(stderr, "memsync-fuse: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* Parse the options after the command word (and an optional FILE). */
static int parse(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof *a);
	a->addr = "127.0.0.1";
	a->seed = 1;
	a->timeout_s = 10;
	for (int i = 2; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t x = 0;
		if (k[0] != '-' && !a->file) {
			a->file = k;
			continue;
		}
		if (!v)
			return -1;
		i++;
		if (!strcmp(k, "-o")) {
			const char *eq = strchr(v, '=');
			if (!eq || a->sc.nopts >= SCENARIO_MAX_OPTS)
				return -1;
			snprintf(a->sc.opts[a->sc.nopts].key, sizeof a->sc.opts[0].key, "%.*s", (int)(eq - v), v);
			snprintf(a->sc.opts[a->sc.nopts++].val, sizeof a->sc.opts[0].val, "%s", eq + 1);
		} else if (!strcmp(k, "--addr")) {
			a->addr = v;
		} else if (!strcmp(k, "--dir")) {
			a->dir = v;
		} else if (!strcmp(k, "--ctl")) {
			a->ctl = v;
		} else if (num(v, &x)) {
			return -1;
		} else if (!strcmp(k, "--size")) {
			a->size = x;
		} else if (!strcmp(k, "--seed")) {
			a->seed = x;
		} else if (!strcmp(k, "--offset")) {
			a->off = x;
		} else if (!strcmp(k, "--length")) {
			a->len = x;
		} else if (!strcmp(k, "--timeout")) {
			a->timeout_s = x;
		} else if (!strcmp(k, "--port")) {
			a->port = (int)x;
		} else if (!strcmp(k, "--ctl-port")) {
			a->ctl_port = (int)x;
		} else if (!strcmp(k, "--version")) {
			a->version = (uint32_t)x;
		} else if (!strcmp(k, "--from")) {
			a->from = (uint32_t)x;
		} else if (!strcmp(k, "--to")) {
			a->to = (uint32_t)x;
		} else {
			return -1;
		}
	}
	return 0;
}

/* A free TCP port on addr (bind to 0 and read it back). */
static int free_port(const char *addr)
{
	struct err e = {0};
	int fd = fuse_ctl_listen(addr, 0, &e);
	if (fd < 0)
		return -1;
	int p = fuse_ctl_port(fd);
	close(fd);
	return p;
}

/* Block SIGINT/SIGTERM in every thread; wait for one. */
static void wait_signal(const sigset_t *set)
{
	int sig;
	sigwait(set, &sig);
}

/* The scenario the approach sees. */
static void fill_scenario(struct args *a, int ctl_port)
{
	a->sc.ops = &fuse_ops;
	a->sc.size = a->size;
	a->sc.seed = a->seed;
	a->sc.mode = MODE_ACCESS;
	a->sc.port = a->port;
	a->sc.ctl_port = ctl_port;
	snprintf(a->sc.remote_addr, sizeof a->sc.remote_addr, "%s", a->addr);
	snprintf(a->sc.local_addr, sizeof a->sc.local_addr, "%s", a->addr);
	snprintf(a->sc.workdir, sizeof a->sc.workdir, "%s", a->dir ? a->dir : "/tmp");
}

/* serve: the remote side until a signal. */
static int cmd_serve(struct args *a, const sigset_t *set)
{
	int ctl = a->ctl_port ? a->ctl_port : free_port(a->addr);
	if (!a->size || ctl < 0)
		return usage();
	fill_scenario(a, ctl);
	struct host h = {.sc = &a->sc, .name = "remote", .addr = a->addr, .port = a->port};
	struct err e = {0};
	if (fuse_ops.check_options(&a->sc, &e) || fuse_ops.serve(&h, &e)) {
		fprintf(stderr, "memsync-fuse serve: %s\n", e.msg);
		fuse_ops.serve_stop(&h);
		return 1;
	}
	printf("port %d ctl %d\n", h.port, ctl);
	fflush(stdout);
	wait_signal(set);
	fuse_ops.serve_stop(&h);
	return 0;
}

/* region->report_fatal for the tool: say it. */
static void tool_fatal(struct region *r, const char *msg)
{
	(void)r;
	fprintf(stderr, "memsync-fuse mount: %s\n", msg);
}

/* mount: the local side until a signal. */
static int cmd_mount(struct args *a, const sigset_t *set)
{
	if (!a->size || !a->port || !a->dir)
		return usage();
	fill_scenario(a, a->ctl_port);
	struct region r = {.sc = &a->sc, .uffd = -1, .size = a->size, .report_fatal = tool_fatal};
	struct err e = {0};
	if (fuse_ops.check_options(&a->sc, &e) || fuse_ops.open(&a->sc, &r, &e)) {
		fprintf(stderr, "memsync-fuse mount: %s\n", e.msg);
		fuse_ops.close(&r);
		return 1;
	}
	printf("%s\n", r.path);
	fflush(stdout);
	wait_signal(set);
	fuse_ops.close(&r);
	return 0;
}

/* write: change the remote copy through the remote side's control port. */
static int cmd_write(struct args *a)
{
	char host[64];
	const char *colon = a->ctl ? strrchr(a->ctl, ':') : NULL;
	if (!colon || !a->len || a->off % CONTENT_BLOCK || a->len % CONTENT_BLOCK || a->len > FUSE_CTL_MAX_PAYLOAD)
		return usage();
	snprintf(host, sizeof host, "%.*s", (int)(colon - a->ctl), a->ctl);
	unsigned char *buf = malloc(a->len);
	struct err e = {0};
	int fd = buf ? fuse_ctl_connect(host, atoi(colon + 1), 5000, &e) : -1;
	struct fuse_ctl_msg m;
	int rc = fd < 0 ? -1 : 0;
	for (uint64_t b = 0; !rc && b < a->len / CONTENT_BLOCK; b++)
		content_fill_block(a->seed, a->off / CONTENT_BLOCK + b, a->version, buf + b * CONTENT_BLOCK);
	if (!rc && !(rc = fuse_ctl_send(fd, FUSE_CTL_WRITE, a->off, 0, buf, (uint32_t)a->len, &e)) &&
	    !(rc = fuse_ctl_recv(fd, &m, 10000, &e)) && (m.type != FUSE_CTL_ACK || m.a))
		rc = err_errno(&e, (int)m.a, "the remote side refused the write");
	if (rc)
		fprintf(stderr, "memsync-fuse write: %s\n", rc > 0 ? "the remote side closed the connection" : e.msg);
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc ? 1 : 0;
}

/* Does [off, off + len) of map hold version v? First bad byte in *bad. */
static int holds(const unsigned char *map, const struct args *a, uint32_t v, uint64_t *bad)
{
	unsigned char block[CONTENT_BLOCK];
	for (uint64_t at = a->off; at < a->off + a->len; at += CONTENT_BLOCK) {
		content_fill_block(a->seed, at / CONTENT_BLOCK, v, block);
		for (unsigned i = 0; i < CONTENT_BLOCK; i++)
			if (map[at + i] != block[i]) {
				*bad = at + i;
				return 0;
			}
	}
	return 1;
}

/* watch: through the mapping, see the range change from one version to another. */
static int cmd_watch(struct args *a)
{
	struct stat st;
	int fd = a->file ? open(a->file, O_RDWR | O_CLOEXEC) : -1;
	if (fd < 0 || fstat(fd, &st) || !a->len || a->off % CONTENT_BLOCK || a->len % CONTENT_BLOCK ||
	    a->off + a->len > (uint64_t)st.st_size) {
		if (fd >= 0)
			close(fd);
		return a->file ? (perror("memsync-fuse watch"), 1) : usage();
	}
	unsigned char *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return perror("memsync-fuse watch: mmap"), 1;
	uint64_t bad = 0, t0;
	int rc = 1;
	if (!holds(map, a, a->from, &bad)) {
		fprintf(stderr, "memsync-fuse watch: byte %llu is not version %u to begin with\n", (unsigned long long)bad,
			a->from);
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	t0 = now_ns();
	while (now_ns() - t0 < a->timeout_s * 1000000000ull) {
		if (holds(map, a, a->to, &bad)) {
			printf("changed after %.1f ms\n", (double)(now_ns() - t0) / 1e6);
			rc = 0;
			goto out;
		}
		usleep(10000);
	}
	fprintf(stderr, "memsync-fuse watch: byte %llu is still not version %u after %llu s\n", (unsigned long long)bad,
		a->to, (unsigned long long)a->timeout_s);
out:
	munmap(map, (size_t)st.st_size);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a;
	if (argc < 2 || parse(argc, argv, &a))
		return usage();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(&a, &set);
	if (!strcmp(argv[1], "mount"))
		return cmd_mount(&a, &set);
	if (!strcmp(argv[1], "write"))
		return cmd_write(&a);
	if (!strcmp(argv[1], "watch"))
		return cmd_watch(&a);
	return usage();
}
