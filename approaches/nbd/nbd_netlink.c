/*
 * nbd_netlink.c - the netlink side of the kernel NBD client: generic
 * netlink messages of the "nbd" family (connect with several sockets,
 * disconnect), written with raw sockets, and the kernel uevent listener
 * that tells when a device changed (what udev listens to).
 *
 * Kernels before 6.5 register the family in the initial network namespace
 * only; a process in another one (a scenario's host) then reaches it with
 * a socket made in the initial namespace (setns on a short-lived thread).
 */
#include "nbd_kernel.h"

#include <errno.h>
#include <linux/genetlink.h>
#include <linux/nbd-netlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

#define NL_BUF 8192

/* A netlink message under construction. */
struct nl_msg {
	union {
		struct nlmsghdr h;
		char buf[NL_BUF];
	};
	int overflow;
};

/* Append an attribute; returns its header (for nests) or NULL on overflow. */
static struct nlattr *nl_put(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
	size_t at = NLMSG_ALIGN(m->h.nlmsg_len), need = NLA_HDRLEN + len;
	if (at + NLA_ALIGN(need) > sizeof m->buf) {
		m->overflow = 1;
		return NULL;
	}
	struct nlattr *a = (struct nlattr *)(m->buf + at);
	a->nla_type = type;
	a->nla_len = (uint16_t)need;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
	memset((char *)a + need, 0, NLA_ALIGN(need) - need);
	m->h.nlmsg_len = (uint32_t)(at + NLA_ALIGN(need));
	return a;
}

/* Close a nest opened by nl_put(type | NLA_F_NESTED, NULL, 0). */
static void nl_end(struct nl_msg *m, struct nlattr *nest)
{
	if (nest)
		nest->nla_len = (uint16_t)((m->buf + m->h.nlmsg_len) - (char *)nest);
}

/* Start a generic netlink request. */
static void nl_start(struct nl_msg *m, uint16_t family, uint8_t cmd)
{
	memset(m, 0, sizeof *m);
	m->h.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->h.nlmsg_type = family;
	m->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	m->h.nlmsg_seq = 1;
	struct genlmsghdr *g = NLMSG_DATA(&m->h);
	g->cmd = cmd;
	g->version = 1;
}

/* Find attribute type in a run of attributes. */
static const struct nlattr *nl_find(const void *p, size_t len, uint16_t type)
{
	const struct nlattr *a = p;
	while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len) {
		if ((a->nla_type & NLA_TYPE_MASK) == type)
			return a;
		size_t step = NLA_ALIGN(a->nla_len);
		if (step >= len)
			break;
		len -= step;
		a = (const struct nlattr *)((const char *)a + step);
	}
	return NULL;
}

/* Thread body: a generic netlink socket in the initial network namespace. */
static void *initns_socket(void *arg)
{
	int *fd = arg, ns = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns >= 0 && setns(ns, CLONE_NEWNET) == 0)
		*fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	else
		*fd = -errno;
	if (ns >= 0)
		close(ns);
	return NULL;
}

/* A generic netlink socket here, or (initns) in the initial network namespace. */
static int nl_socket(int initns, struct err *e)
{
	int fd = -1;
	if (!initns) {
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
		return fd >= 0 ? fd : err_errno(e, errno, "nbd netlink: socket");
	}
	pthread_t t;
	int rc = pthread_create(&t, NULL, initns_socket, &fd);
	if (rc)
		return err_errno(e, rc, "nbd netlink: thread");
	pthread_join(t, NULL);
	return fd >= 0 ? fd : err_errno(e, -fd, "nbd netlink: socket in the initial network namespace");
}

/* Send m on a fresh generic netlink socket and read replies until the ACK;
 * on_reply sees each genl reply's attributes. */
static int nl_call(struct nl_msg *m, int initns, const char *what,
		   void (*on_reply)(const void *attrs, size_t len, void *arg), void *arg, struct err *e)
{
	if (m->overflow)
		return err_set(e, "nbd netlink: %s message too large", what);
	int fd = nl_socket(initns, e);
	if (fd < 0)
		return -1;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int rc = -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || send(fd, m->buf, m->h.nlmsg_len, 0) < 0) {
		err_errno(e, errno, "nbd netlink: sending %s", what);
		goto out;
	}
	static __thread char rb[NL_BUF * 2];
	for (;;) {
		ssize_t n = recv(fd, rb, sizeof rb, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err_errno(e, errno, "nbd netlink: reply to %s", what);
			goto out;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)rb; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *ne = NLMSG_DATA(h);
				if (ne->error)
					err_errno(e, -ne->error, "nbd netlink: %s", what);
				else
					rc = 0;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_DONE)
				continue;
			if (on_reply && h->nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN))
				on_reply((const char *)NLMSG_DATA(h) + GENL_HDRLEN,
					 h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), arg);
		}
	}
out:
	close(fd);
	return rc;
}

/* on_reply of CTRL_CMD_GETFAMILY: the family id. */
static void family_reply(const void *attrs, size_t len, void *arg)
{
	const struct nlattr *a = nl_find(attrs, len, CTRL_ATTR_FAMILY_ID);
	if (a && a->nla_len >= NLA_HDRLEN + 2)
		memcpy(arg, (const char *)a + NLA_HDRLEN, 2);
}

/* The generic netlink id of the "nbd" family, here or else in the initial
 * namespace (*initns set), or -1 (ENOENT: not in this kernel). */
static int nbd_family(int *initns, struct err *e)
{
	struct nl_msg m;
	for (*initns = 0; *initns < 2; ++*initns) {
		nl_start(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
		nl_put(&m, CTRL_ATTR_FAMILY_NAME, NBD_GENL_FAMILY_NAME, sizeof NBD_GENL_FAMILY_NAME);
		uint16_t id = 0;
		struct err sub = {0};
		if (nl_call(&m, *initns, "looking up the nbd family", family_reply, &id, &sub) == 0 && id)
			return id;
		if (*initns || sub.code != ENOENT) {
			if (sub.set)
				*e = e->set ? *e : sub;
			return e->set ? -1 : err_errno(e, ENOENT, "nbd netlink: no family id");
		}
	}
	return -1;
}

/* on_reply of NBD_CMD_CONNECT: the device index. */
static void index_reply(const void *attrs, size_t len, void *arg)
{
	const struct nlattr *a = nl_find(attrs, len, NBD_ATTR_INDEX);
	if (a && a->nla_len >= NLA_HDRLEN + 4)
		memcpy(arg, (const char *)a + NLA_HDRLEN, 4);
}

/* Put a u64 attribute. */
static void put64(struct nl_msg *m, uint16_t type, uint64_t v)
{
	nl_put(m, type, &v, sizeof v);
}

/* NBD_CMD_CONNECT with every socket; *index in/out (-1 = kernel picks). */
int nbd_nl_connect(const struct nbd_dev_opts *o, const int *socks, int nsocks, int *index, struct err *e)
{
	int initns, fam = nbd_family(&initns, e);
	if (fam < 0)
		return -1;
	struct nl_msg m;
	nl_start(&m, (uint16_t)fam, NBD_CMD_CONNECT);
	if (*index >= 0) {
		uint32_t i = (uint32_t)*index;
		nl_put(&m, NBD_ATTR_INDEX, &i, sizeof i);
	}
	put64(&m, NBD_ATTR_SIZE_BYTES, o->size);
	put64(&m, NBD_ATTR_BLOCK_SIZE_BYTES, o->blksize);
	put64(&m, NBD_ATTR_SERVER_FLAGS, o->flags);
	put64(&m, NBD_ATTR_TIMEOUT, (uint64_t)o->timeout_s);
	if (o->tag)
		nl_put(&m, NBD_ATTR_BACKEND_IDENTIFIER, o->tag, strlen(o->tag) + 1);
	struct nlattr *list = nl_put(&m, NBD_ATTR_SOCKETS | NLA_F_NESTED, NULL, 0);
	for (int i = 0; i < nsocks; i++) {
		struct nlattr *item = nl_put(&m, NBD_SOCK_ITEM | NLA_F_NESTED, NULL, 0);
		uint32_t fd = (uint32_t)socks[i];
		nl_put(&m, NBD_SOCK_FD, &fd, sizeof fd);
		nl_end(&m, item);
	}
	nl_end(&m, list);
	uint32_t got = (uint32_t)-1;
	char what[64] = "NBD_CMD_CONNECT (any free device)";
	if (*index >= 0)
		snprintf(what, sizeof what, "NBD_CMD_CONNECT of /dev/nbd%d", *index);
	if (nl_call(&m, initns, what, index_reply, &got, e))
		return -1;
	if (*index < 0)
		*index = (int)got;
	return *index >= 0 ? 0 : err_set(e, "nbd netlink: NBD_CMD_CONNECT named no device");
}

/* NBD_CMD_DISCONNECT of device index. */
int nbd_nl_disconnect(int index, struct err *e)
{
	int initns, fam = nbd_family(&initns, e);
	if (fam < 0)
		return -1;
	struct nl_msg m;
	nl_start(&m, (uint16_t)fam, NBD_CMD_DISCONNECT);
	uint32_t i = (uint32_t)index;
	nl_put(&m, NBD_ATTR_INDEX, &i, sizeof i);
	return nl_call(&m, initns, "NBD_CMD_DISCONNECT", NULL, NULL, e);
}

/* A socket subscribed to the kernel's uevents (group 1: the kernel's, not udev's). */
int nbd_uevent_open(struct err *e)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return err_errno(e, errno, "uevent socket");
	int sz = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1};
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa)) {
		int saved = errno;
		close(fd);
		return err_errno(e, saved, "uevent socket: bind");
	}
	return fd;
}

/* Is this uevent "change" of the whole disk nbd<index>? */
static int uevent_matches(const char *msg, size_t len, int index)
{
	char want[32];
	snprintf(want, sizeof want, "/nbd%d", index);
	if (len < 8 || strncmp(msg, "change@", 7))
		return 0;
	size_t hl = strnlen(msg, len), wl = strlen(want);
	return hl >= wl && !strcmp(msg + hl - wl, want);
}

/* Wait for "change" of nbd<index>; -1 on timeout. */
int nbd_uevent_wait(int fd, int *index, int timeout_ms, struct err *e)
{
	static __thread char buf[NL_BUF];
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
		if (n > 0) {
			buf[n] = 0;
			if (uevent_matches(buf, (size_t)n, *index))
				return 0;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return err_errno(e, errno, "uevent socket: recv");
		uint64_t now = now_ns();
		if (now >= deadline)
			return err_errno(e, ETIMEDOUT, "no uevent for nbd%d within %d ms", *index, timeout_ms);
		struct pollfd p = {fd, POLLIN, 0};
		poll(&p, 1, (int)((deadline - now) / 1000000ull) + 1);
	}
}
