/*
 * test_remote_client.c - the libnbd client layer (approaches/common/remote.c)
 * against memsync's own server (in process, UNIX socket, multi-conn) and
 * against nbdkit's memory plugin (with and without the delay filter):
 * sync and async I/O with many requests in flight, chained completions,
 * errors, flush, reconnect after the server restarts, and a clear error
 * when it does not come back. Content is verified everywhere.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "clock.h"
#include "log.h"
#include "nbd_server.h"
#include "pattern.h"
#include "remote.h"
#include "check.h"

#define SIZE (64u << 20)

struct counter {
	atomic_int done, errors;
};

/* Count completions. */
static void count_done(void *arg, int error)
{
	struct counter *c = arg;
	if (error)
		atomic_fetch_add(&c->errors, 1);
	atomic_fetch_add(&c->done, 1);
}

struct chain {
	struct remote *r;
	unsigned char *buf;
	atomic_int left;
	atomic_int errors;
};

/* Completion that submits the next read from the poller thread. */
static void chain_done(void *arg, int error)
{
	struct chain *c = arg;
	struct err e = {0};
	if (error)
		atomic_fetch_add(&c->errors, 1);
	int left = atomic_fetch_sub(&c->left, 1) - 1;
	if (left > 0 && remote_aio_pread(c->r, c->buf, 4096, (uint64_t)left * 4096, chain_done, c, &e))
		atomic_fetch_add(&c->errors, 1);
}

/* The common checks against any server at uri with nconn connections. */
/* Returns the seconds spent in the asynchronous write+read phase. */
static double exercise(const char *uri, int nconn, int inflight, size_t total)
{
	struct err e = {0};
	struct remote_opts o = {.uri = uri, .nconn = nconn, .max_inflight = inflight};
	struct remote *r = remote_connect_opts(&o, &e);
	if (!r) {
		fprintf(stderr, "connect %s: %s\n", uri, e.msg);
		check_fail();
		return 0;
	}
	CHECK(remote_size(r) >= total);
	unsigned char *w = malloc(total), *rd = malloc(total);
	fill(w, total, 0, 3);
	/* sync: one request larger than 32 MiB is split */
	CHECK(remote_pwrite(r, w, total, 0, &e) == 0);
	memset(rd, 0, total);
	CHECK(remote_pread(r, rd, total, 0, &e) == 0);
	CHECK(memcmp(w, rd, total) == 0);

	/* async: many 64 KiB requests in flight */
	struct counter c = {0};
	size_t bs = 65536, n = total / bs;
	fill(w, total, 0, 9);
	unsigned long long t0 = now_ns();
	for (size_t i = 0; i < n; i++)
		CHECK(remote_aio_pwrite(r, w + i * bs, bs, i * bs, count_done, &c, &e) == 0);
	CHECK(remote_drain(r, &e) == 0);
	CHECK(atomic_load(&c.done) == (int)n && atomic_load(&c.errors) == 0);
	memset(rd, 0, total);
	for (size_t i = 0; i < n; i++)
		CHECK(remote_aio_pread(r, rd + (n - 1 - i) * bs, bs, (n - 1 - i) * bs, count_done, &c, &e) == 0);
	CHECK(remote_drain(r, &e) == 0);
	CHECK(atomic_load(&c.done) == (int)(2 * n) && atomic_load(&c.errors) == 0);
	double secs = (double)(now_ns() - t0) / 1e9;
	CHECK(matches(rd, total, 0, 9));

	/* chained from completion callbacks */
	unsigned char page[4096];
	struct chain ch = {.r = r, .buf = page};
	atomic_init(&ch.left, 100);
	CHECK(remote_aio_pread(r, page, 4096, 100 * 4096, chain_done, &ch, &e) == 0);
	while (atomic_load(&ch.left) > 0)
		usleep(1000);
	CHECK(remote_drain(r, &e) == 0 && atomic_load(&ch.errors) == 0);

	/* errors */
	err_clear(&e);
	CHECK(remote_pread(r, rd, 2, remote_size(r) - 1, &e) == -1 && strstr(e.msg, "outside"));
	err_clear(&e);
	CHECK(remote_pread(r, rd, 4096, 0, &e) == 0 && matches(rd, 4096, 0, 9));
	CHECK(remote_flush(r, &e) == 0);

	struct remote_stats st;
	remote_stats(r, &st);
	CHECK(st.max_inflight_seen <= (uint64_t)inflight && st.max_inflight_seen > 1);
	CHECK(st.bytes_read >= 2 * total && st.errors == 0 && st.flushes == 1);
	remote_close(r);
	free(w);
	free(rd);
	return secs;
}

/* Reconnect: the server goes away and comes back on the same socket. */
static void test_reconnect(struct backend *b, const char *sock, const char *uri)
{
	struct err e = {0};
	struct nbd_server *s = nbd_server_new(b, NULL, &e);
	CHECK(s && nbd_server_listen(s, NULL, sock, &e) == 0);
	struct remote_opts o = {.uri = uri, .nconn = 2, .retries = 6};
	struct remote *r = remote_connect_opts(&o, &e);
	CHECK(r != NULL);
	if (!r)
		return;
	unsigned char buf[8192];
	fill(buf, sizeof buf, 0, 1);
	CHECK(remote_pwrite(r, buf, sizeof buf, 0, &e) == 0);
	nbd_server_free(s); /* drops both connections */
	s = nbd_server_new(b, NULL, &e);
	CHECK(s && nbd_server_listen(s, NULL, sock, &e) == 0);
	memset(buf, 0, sizeof buf);
	for (int i = 0; i < 4; i++) /* spread over both connections */
		CHECK(remote_pread(r, buf, sizeof buf, 0, &e) == 0 && matches(buf, sizeof buf, 0, 1));
	struct remote_stats st;
	remote_stats(r, &st);
	CHECK(st.reconnects >= 1);
	remote_close(r);

	/* now it stays away: a bounded wait, then a clear error */
	o.retries = 2;
	r = remote_connect_opts(&o, &e);
	CHECK(r != NULL);
	nbd_server_free(s);
	if (!r)
		return;
	unsigned long long t0 = now_ns();
	err_clear(&e);
	int rc = 0;
	for (int i = 0; i < 4 && rc == 0; i++)
		rc = remote_pread(r, buf, 4096, 0, &e);
	CHECK(rc == -1 && strstr(e.msg, "reconnect"));
	CHECK(now_ns() - t0 < 10000000000ull);
	fprintf(stderr, "expected error: %s\n", e.msg);
	remote_close(r);
}

/* A one-client UNIX socket proxy that can freeze: a link that goes dead
 * without closing (no RST, no FIN), like a pulled cable. */
struct proxy {
	int listen_fd;
	char target[128];
	atomic_int frozen, stop;
	pthread_t thread;
};

/* Connect to a UNIX socket path; -1 on failure. */
static int unix_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Forward bytes both ways until frozen; then hold both ends silent until stopped. */
static void *proxy_run(void *arg)
{
	struct proxy *p = arg;
	int a = accept(p->listen_fd, NULL, NULL), b = a >= 0 ? unix_connect(p->target) : -1;
	unsigned char buf[65536];
	while (a >= 0 && b >= 0 && !atomic_load(&p->stop)) {
		struct pollfd f[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
		if (atomic_load(&p->frozen) || poll(f, 2, 20) <= 0) {
			usleep(20000);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			if (!f[i].revents)
				continue;
			ssize_t n = recv(f[i].fd, buf, sizeof buf, 0);
			if (n <= 0 || send(f[!i].fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				atomic_store(&p->stop, 1);
		}
	}
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
	return NULL;
}

/* A link that dies silently: remote_close() gives up after close_timeout_ms
 * with a clear error, and the stuck request completes once with ENOTCONN. */
static void test_close_dead_link(struct backend *b, const char *dir)
{
	struct err e = {0};
	char sock[160], psock[160], uri[256];
	snprintf(sock, sizeof sock, "%s/dead.sock", dir);
	snprintf(psock, sizeof psock, "%s/proxy.sock", dir);
	struct nbd_server *s = nbd_server_new(b, NULL, &e);
	CHECK(s && nbd_server_listen(s, NULL, sock, &e) == 0);
	struct proxy p = {.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
	snprintf(p.target, sizeof p.target, "%s", sock);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", psock);
	CHECK(bind(p.listen_fd, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(p.listen_fd, 1) == 0);
	CHECK(pthread_create(&p.thread, NULL, proxy_run, &p) == 0);
	snprintf(uri, sizeof uri, "nbd+unix:///?socket=%s", psock);
	struct remote_opts o = {.uri = uri, .nconn = 1, .close_timeout_ms = 300};
	struct remote *r = remote_connect_opts(&o, &e);
	CHECK(r != NULL);
	if (r) {
		unsigned char buf[4096];
		fill(buf, sizeof buf, 0, 5);
		CHECK(remote_pwrite(r, buf, sizeof buf, 0, &e) == 0); /* the link works */
		atomic_store(&p.frozen, 1);
		struct counter c = {0};
		CHECK(remote_aio_pread(r, buf, sizeof buf, 0, count_done, &c, &e) == 0);
		unsigned long long t0 = now_ns();
		err_clear(&e);
		CHECK(remote_close_err(r, &e) == -1 && strstr(e.msg, "no reply within 300 ms") && e.code == ETIMEDOUT);
		double secs = (double)(now_ns() - t0) / 1e9;
		fprintf(stderr, "expected error after %.2f s: %s\n", secs, e.msg);
		CHECK(secs >= 0.29 && secs < 3);
		CHECK(atomic_load(&c.done) == 1 && atomic_load(&c.errors) == 1);
	}
	/* a live link closes cleanly and at once */
	struct remote_opts live = {.uri = "", .nconn = 2, .close_timeout_ms = 300};
	char direct[256];
	snprintf(direct, sizeof direct, "nbd+unix:///?socket=%s", sock);
	live.uri = direct;
	r = remote_connect_opts(&live, &e);
	CHECK(r != NULL);
	err_clear(&e);
	unsigned long long t0 = now_ns();
	CHECK(remote_close_err(r, &e) == 0 && !e.set && now_ns() - t0 < 250000000ull);
	atomic_store(&p.stop, 1);
	pthread_join(p.thread, NULL);
	close(p.listen_fd);
	nbd_server_free(s);
}

/* Start nbdkit on a UNIX socket with extra args; returns its pid or -1
 * once it accepts connections (it writes its pid file then: the socket
 * file alone appears at bind, before listen, and a connect may be refused). */
static pid_t start_nbdkit(const char *sock, const char *const *args)
{
	char pidfile[300];
	if (system("command -v nbdkit >/dev/null 2>&1"))
		return -1;
	snprintf(pidfile, sizeof pidfile, "%s.pid", sock);
	unlink(sock);
	unlink(pidfile);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		const char *argv[16] = {"nbdkit", "-U", sock, "-P", pidfile, "-f"};
		int n = 6;
		for (int i = 0; args[i] && n < 15; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		execvp("nbdkit", (char **)argv);
		_exit(127);
	}
	for (int i = 0; i < 500 && access(pidfile, F_OK); i++)
		usleep(10000);
	return access(pidfile, F_OK) ? -1 : pid;
}

/* Stop nbdkit. */
static void stop_nbdkit(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Run all tests. */
/* A server that accepts TCP but never says a word (a link that died after
 * the SYN, a wedged peer): the connect fails after connect_timeout_ms
 * instead of blocking. */
static void test_connect_silent_peer(const char *dir)
{
	struct err e = {0};
	char sock[128];
	snprintf(sock, sizeof sock, "%s/silent.sock", dir);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", sock);
	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(lfd, 4) == 0);
	struct remote_opts o = {.unix_path = sock, .connect_timeout_ms = 300};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct remote *r = remote_connect_opts(&o, &e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(r == NULL && strstr(e.msg, "no answer within 300 ms"));
	CHECK(took < 10); /* bounded (the retries may add a few more timeouts) */
	if (r)
		remote_close(r);
	close(lfd);
	unlink(sock);
}

int main(void)
{
	if (!remote_available()) {
		fprintf(stderr, "SKIP: built without libnbd\n");
		return 77;
	}
	log_verbose = 1;
	struct err e = {0};
	char dir[] = "/tmp/memsync-client.XXXXXX", sock[128], uri[256];
	CHECK(mkdtemp(dir) != NULL);

	/* our server */
	snprintf(sock, sizeof sock, "%s/ours.sock", dir);
	snprintf(uri, sizeof uri, "nbd+unix:///?socket=%s", sock);
	struct backend *b = backend_memory_new(SIZE, &e);
	struct nbd_server *s = nbd_server_new(b, NULL, &e);
	CHECK(s && nbd_server_listen(s, NULL, sock, &e) == 0);
	exercise(uri, 1, 8, 40u << 20);
	/* the same export by socket path instead of a URI */
	char built[512];
	struct remote_opts byparts = {.unix_path = sock, .nconn = 2};
	struct remote *rp = remote_connect_opts(&byparts, &e);
	CHECK(rp && remote_size(rp) == SIZE);
	remote_close(rp);
	struct remote_opts tcp = {.host = "::1", .port = "1234", .export_name = "a b", .tls_psk_file = "/k s.psk",
				  .tls_username = "alice"};
	CHECK(remote_build_uri(&tcp, built, sizeof built, &e) == 0);
	CHECK(!strcmp(built, "nbds://alice@[::1]:1234/a%20b?tls-psk-file=/k%20s.psk"));
	struct remote_opts both = {.host = "h", .unix_path = "/s"};
	err_clear(&e);
	CHECK(remote_build_uri(&both, built, sizeof built, &e) == -1);
	err_clear(&e);
	exercise(uri, 4, 64, 40u << 20);
	struct nbd_server_stats st;
	nbd_server_stats(s, &st);
	CHECK(st.connections >= 5 && st.errors == 0);
	nbd_server_free(s);
	test_reconnect(b, sock, uri);
	test_close_dead_link(b, dir);
	test_connect_silent_peer(dir);
	backend_close(b);

	/* nbdkit as the remote */
	snprintf(sock, sizeof sock, "%s/nbdkit.sock", dir);
	snprintf(uri, sizeof uri, "nbd+unix:///?socket=%s", sock);
	const char *plain[] = {"memory", "64M", NULL};
	pid_t pid = start_nbdkit(sock, plain);
	if (pid > 0) {
		exercise(uri, 4, 64, 40u << 20);
		stop_nbdkit(pid);
		const char *delayed[] = {"--filter=delay", "memory", "64M", "rdelay=20ms", "wdelay=20ms", NULL};
		pid = start_nbdkit(sock, delayed);
		CHECK(pid > 0);
		double secs = exercise(uri, 2, 64, 4u << 20);
		fprintf(stderr, "128 requests with 20 ms delay each: %.2f s (serially %.2f s)\n", secs, 128 * 0.020);
		CHECK(secs < 128 * 0.020 / 3); /* only possible with many requests in flight */
		stop_nbdkit(pid);
	} else {
		fprintf(stderr, "nbdkit not available: skipping the nbdkit part\n");
	}
	snprintf(uri, sizeof uri, "rm -rf '%s'", dir);
	if (system(uri))
		fprintf(stderr, "cleanup failed\n");
	return check_done();
}
