/*
 * nbd_server.c - the NBD server object: listening on TCP or a UNIX
 * socket, the accept thread, one thread per connection that runs the
 * handshake and then the transmission phase in the mode the backend
 * allows (or one connection over memory on the caller's thread), the
 * counters, and stopping (see nbd_server.h for the design,
 * nbd_server_int.h for the files).
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "nbd_server_int.h"

#define NOTSENT_LOWAT (1024 * 1024) /* default unsent bytes the kernel may hold per connection */
#define HANDSHAKE_TIMEOUT_S 60      /* a silent client is dropped after this */

/* ---- a connection's life: handshake, then transmission ---- */

/* Bound how long a receive may wait (0 = forever); sockets only. */
static void conn_set_timeout(struct nbd_conn *c, int seconds)
{
	struct timeval tv = {.tv_sec = seconds};
	if (c->fd >= 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* Handshake, then transmission until the connection ends; 1 if it got
 * past the handshake (then it is still counted active: the caller ends that). */
static int conn_serve(struct nbd_conn *c)
{
	struct nbd_server *s = c->s;
	conn_set_timeout(c, HANDSHAKE_TIMEOUT_S);
	if (nbd_conn_handshake(c))
		return 0;
	atomic_fetch_add(&s->connections_active, 1);
	conn_set_timeout(c, 0);
	if (s->opts.workers == 1 && backend_base(s->b) && !s->opts.chunk_size)
		nbd_conn_serve_inline(c);
	else
		nbd_conn_serve_workers(c, s->opts.workers);
	return 1;
}

/* The connection thread: serve, then close and let the server reap it. */
static void *conn_run(void *arg)
{
	struct nbd_conn *c = arg;
	struct nbd_server *s = c->s;
	int active = conn_serve(c);
	tls_session_free(c->tls);
	c->tls = NULL;
	pthread_mutex_lock(&s->lock);
	close(c->fd);
	c->fd = -1;
	c->finished = 1;
	pthread_mutex_unlock(&s->lock);
	if (active)
		atomic_fetch_sub(&s->connections_active, 1);
	atomic_fetch_sub(&s->open_conns, 1);
	log_debug("nbd: %s: connection closed", c->peer);
	return NULL;
}

/* One connection over memory, on this thread. */
uint64_t nbd_server_serve_memory(struct nbd_server *s, const void *in, size_t len)
{
	struct nbd_membuf m = {.in = in, .len = len};
	struct nbd_conn c = {.s = s, .fd = -1, .mem = &m};
	snprintf(c.peer, sizeof c.peer, "memory");
	pthread_mutex_init(&c.read_lock, NULL);
	pthread_mutex_init(&c.write_lock, NULL);
	atomic_fetch_add(&s->connections, 1);
	atomic_fetch_add(&s->open_conns, 1);
	if (conn_serve(&c))
		atomic_fetch_sub(&s->connections_active, 1);
	atomic_fetch_sub(&s->open_conns, 1);
	tls_session_free(c.tls);
	pthread_mutex_destroy(&c.read_lock);
	pthread_mutex_destroy(&c.write_lock);
	return m.sent;
}

/* ---- connections and their threads ---- */

/* Join and free connections whose thread has ended (s->lock held). */
static void reap_finished(struct nbd_server *s)
{
	struct nbd_conn **pp = &s->conns;
	while (*pp) {
		struct nbd_conn *c = *pp;
		if (!c->finished) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		pthread_join(c->thread, NULL);
		pthread_mutex_destroy(&c->read_lock);
		pthread_mutex_destroy(&c->write_lock);
		free(c);
	}
}

/* Describe the peer of fd for log lines. */
static void peer_name(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[64];
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		snprintf(out, cap, "%s:%u", inet_ntop(AF_INET, &in->sin_addr, host, sizeof host), ntohs(in->sin_port));
	} else if (len && ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		snprintf(out, cap, "[%s]:%u", inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host),
			 ntohs(in6->sin6_port));
	} else {
		snprintf(out, cap, "fd%d", fd);
	}
}

/* Start a connection thread for fd (ownership passes). */
int nbd_server_serve_fd(struct nbd_server *s, int fd, struct err *e)
{
	pthread_mutex_lock(&s->lock);
	reap_finished(s);
	if (atomic_load(&s->stopping) || atomic_load(&s->open_conns) >= s->opts.max_connections) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return err_set(e, "nbd: too many connections (%d) or stopping", s->opts.max_connections);
	}
	struct nbd_conn *c = calloc(1, sizeof *c);
	if (!c) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return err_errno(e, errno, "nbd: new connection");
	}
	c->s = s;
	c->fd = fd;
	pthread_mutex_init(&c->read_lock, NULL);
	pthread_mutex_init(&c->write_lock, NULL);
	peer_name(fd, c->peer, sizeof c->peer);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on UNIX sockets */
	/*
	 * Let the kernel hold little unsent reply data: beyond the client's
	 * window it is transmitted later by the client's ACK processing, on the
	 * client's CPU (on loopback that work landed on nbdcopy, the bottleneck
	 * of a multi-conn copy: see README); and a small reply queues behind less.
	 */
	if (s->opts.notsent_lowat > 0) {
		int lowat = (int)s->opts.notsent_lowat;
		setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
	}
	atomic_fetch_add(&s->connections, 1);
	atomic_fetch_add(&s->open_conns, 1);
	int rc = pthread_create(&c->thread, NULL, conn_run, c);
	if (rc) {
		atomic_fetch_sub(&s->open_conns, 1);
		pthread_mutex_unlock(&s->lock);
		close(fd);
		free(c);
		return err_errno(e, rc, "nbd: connection thread");
	}
	c->next = s->conns;
	s->conns = c;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Accept connections until the server stops. */
static void *accept_run(void *arg)
{
	struct nbd_server *s = arg;
	while (!atomic_load(&s->stopping)) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (atomic_load(&s->stopping))
				break;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
				log_warn("nbd: accept: %s", strerror(errno));
				usleep(10000);
				continue;
			}
			log_warn("nbd: accept: %s; no longer accepting", strerror(errno));
			break;
		}
		struct err e = {0};
		if (nbd_server_serve_fd(s, fd, &e))
			log_info("%s", e.msg);
	}
	return NULL;
}

/* Create a server. */
struct nbd_server *nbd_server_new(struct backend *b, const struct nbd_server_opts *opts, struct err *e)
{
	struct nbd_server *s = calloc(1, sizeof *s);
	if (!s)
		return err_errno(e, errno, "nbd server"), NULL;
	if (opts)
		s->opts = *opts;
	if (s->opts.workers <= 0) /* auto: inline for memory, a pool where the backend may block */
		s->opts.workers = b->base && !s->opts.chunk_size ? 1 : 8;
	if (s->opts.workers > 256)
		s->opts.workers = 256;
	if (s->opts.max_connections <= 0)
		s->opts.max_connections = 256;
	if (s->opts.notsent_lowat == 0)
		s->opts.notsent_lowat = NOTSENT_LOWAT;
	if (s->opts.notsent_lowat > INT32_MAX) {
		err_set(e, "nbd server: notsent_lowat %" PRId64 " is too big (at most %d)", s->opts.notsent_lowat, INT32_MAX);
		free(s);
		return NULL;
	}
	if (s->opts.export_name) {
		if (strlen(s->opts.export_name) > NBD_MAX_STRING) {
			free(s);
			return err_set(e, "nbd server: export name too long"), NULL;
		}
		s->export_name = strdup(s->opts.export_name);
	}
	s->opts.export_name = NULL;
	s->b = b;
	s->listen_fd = -1;
	s->port = -1;
	/* Every connection shares one backend in one process: coherent, so multi-conn is safe. */
	s->eflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
		    NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_CAN_MULTI_CONN;
	if (s->opts.readonly)
		s->eflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH | NBD_FLAG_CAN_MULTI_CONN;
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

/* Bind a UNIX socket at path. */
static int listen_unix(struct nbd_server *s, const char *path, struct err *e)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sun.sun_path)
		return err_set(e, "nbd: socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, errno, "nbd: socket");
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* a stale socket from an earlier run; never anything else */
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) || listen(fd, 128)) {
		err_errno(e, errno, "nbd: listen on %s", path);
		close(fd);
		return -1;
	}
	strcpy(s->unix_path, path);
	s->listen_fd = fd;
	return 0;
}

/* Bind a TCP socket at host:port. */
static int listen_tcp(struct nbd_server *s, const char *host, const char *port, struct err *e)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res;
	int rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (rc)
		return err_set(e, "nbd: %s:%s: %s", host, port, gai_strerror(rc));
	int fd = -1, saved = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return err_errno(e, saved, "nbd: listen on %s:%s", host, port);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
							: ((struct sockaddr_in6 *)&ss)->sin6_port);
	s->listen_fd = fd;
	return 0;
}

/* Listen on TCP or a UNIX socket and start accepting. */
int nbd_server_listen(struct nbd_server *s, const char *host, const char *port_or_path, struct err *e)
{
	if (s->accepting)
		return err_set(e, "nbd: already listening");
	if (!port_or_path)
		return err_set(e, "nbd: no port or socket path");
	if (host ? listen_tcp(s, host, port_or_path, e) : listen_unix(s, port_or_path, e))
		return -1;
	int rc = pthread_create(&s->accept_thread, NULL, accept_run, s);
	if (rc) {
		close(s->listen_fd);
		s->listen_fd = -1;
		return err_errno(e, rc, "nbd: accept thread");
	}
	s->accepting = 1;
	return 0;
}

/* TCP port, or -1. */
int nbd_server_port(struct nbd_server *s)
{
	return s->port;
}

/* Copy the counters. */
void nbd_server_stats(struct nbd_server *s, struct nbd_server_stats *o)
{
	o->requests = atomic_load(&s->requests);
	o->reads = atomic_load(&s->reads);
	o->writes = atomic_load(&s->writes);
	o->flushes = atomic_load(&s->flushes);
	o->trims = atomic_load(&s->trims);
	o->zeroes = atomic_load(&s->zeroes);
	o->bytes_read = atomic_load(&s->bytes_read);
	o->bytes_written = atomic_load(&s->bytes_written);
	o->errors = atomic_load(&s->errors);
	o->protocol_errors = atomic_load(&s->protocol_errors);
	o->connections = atomic_load(&s->connections);
	o->connections_active = atomic_load(&s->connections_active);
}

/* One JSON object with every counter. */
int nbd_server_stats_json(const struct nbd_server_stats *st, char *buf, size_t cap)
{
	return snprintf(buf, cap,
			"{\"requests\":%" PRIu64 ",\"reads\":%" PRIu64 ",\"writes\":%" PRIu64 ",\"flushes\":%" PRIu64
			",\"trims\":%" PRIu64 ",\"zeroes\":%" PRIu64 ",\"bytes_read\":%" PRIu64
			",\"bytes_written\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"protocol_errors\":%" PRIu64
			",\"connections\":%" PRIu64 ",\"connections_active\":%" PRIu64 "}",
			st->requests, st->reads, st->writes, st->flushes, st->trims, st->zeroes, st->bytes_read,
			st->bytes_written, st->errors, st->protocol_errors, st->connections, st->connections_active);
}

/* Stop everything and free. */
void nbd_server_free(struct nbd_server *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	if (s->accepting) {
		shutdown(s->listen_fd, SHUT_RDWR);
		pthread_join(s->accept_thread, NULL);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->unix_path[0])
		unlink(s->unix_path);
	pthread_mutex_lock(&s->lock);
	for (struct nbd_conn *c = s->conns; c; c = c->next)
		if (c->fd >= 0) {
			atomic_store(&c->dead, 1);
			shutdown(c->fd, SHUT_RDWR);
		}
	pthread_mutex_unlock(&s->lock);
	for (struct nbd_conn *c = s->conns; c; c = c->next)
		pthread_join(c->thread, NULL);
	for (struct nbd_conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		pthread_mutex_destroy(&c->read_lock);
		pthread_mutex_destroy(&c->write_lock);
		free(c);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->export_name);
	free(s);
}
