/*
 * nbd_tool.c - memsync-nbd: the kernel side of the nbd approach on its own,
 * and the two-hop migration over devices.
 *
 *   memsync-nbd start-time [--ready poll|uevent] [--attach auto|netlink|ioctl]
 *                          [--size BYTES] [--conns N] [--count N]
 *                          [--remote URI --pull N]
 *       attach a device COUNT times and print one JSON line per attach: the
 *       device start time (attach request to readiness seen) for the
 *       readiness method; with --remote the device is a managed mount of
 *       URI with N background pull requests in flight, and the line also
 *       says how many bytes the engine pulled before the device was ready.
 *       Without --remote the device serves an in-memory backend.
 *   memsync-nbd chain [--size BYTES] [--seed N] [--rate BYTES] [--phase DURATION]
 *                     [--kill-seeder BYTES] [-o KEY=VALUE]...
 *       the two-hop migration A -> B -> C over three devices with a live
 *       writer, C verified against the content model (nbd_chain.c); one
 *       JSON line
 *   memsync-nbd cleanup
 *       disconnect every memsync device whose process is gone.
 *
 * Exit codes: 0 ok, 1 failure, 2 bad usage or the kernel NBD client
 * missing / not root (one line saying which).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "managed.h"
#include "nbd_chain.h"
#include "nbd_mount.h"
#include "remote.h"
#include "units.h"

struct tool_opts {
	struct nbd_mount_opts mo;
	uint64_t size;
	int count, pull;
	const char *remote;
};

/* The backend of one attach: memory, or a managed engine over the remote. */
static struct backend *tool_backend(const struct tool_opts *t, struct remote **rm, struct managed **mg, struct err *e)
{
	if (!t->remote)
		return backend_memory_new(t->size, e);
	if (!(*rm = remote_connect(t->remote, 4, e)))
		return NULL;
	struct managed_opts o = {.pull_inflight = t->pull > 0 ? t->pull : -1};
	if (!(*mg = managed_new(*rm, &o, e)))
		return NULL;
	return managed_backend_new(*mg, e);
}

/* Attach once, print the record, detach. */
static int start_once(const struct tool_opts *t, int i, struct err *e)
{
	struct remote *rm = NULL;
	struct managed *mg = NULL;
	struct nbd_mount mt = {.dev = {.index = -1, .fd = -1}};
	struct backend *b = tool_backend(t, &rm, &mg, e);
	int rc = b ? nbd_mount_start(&mt, b, &t->mo, e) : -1;
	if (!rc) {
		uint64_t pulled = 0;
		if (mg) {
			struct managed_stats s;
			managed_stats(mg, &s);
			pulled = s.bytes_pulled_background + s.bytes_pulled_demand;
		}
		printf("{\"type\":\"nbd-start\",\"run\":%d,\"ready\":\"%s\",\"attach\":\"%s\",\"size\":%" PRIu64
		       ",\"conns\":%d,\"managed\":%s,\"pull_inflight\":%d,\"start_ns\":%" PRIu64
		       ",\"connect_ns\":%" PRIu64 ",\"pulled_before_ready\":%" PRIu64 "}\n",
		       i, t->mo.dev.ready == NBD_READY_POLL ? "poll" : "uevent",
		       mt.dev.method == NBD_ATTACH_NETLINK ? "netlink" : "ioctl", t->size, t->mo.conns,
		       mg ? "true" : "false", t->pull, mt.dev.start_ns, mt.dev.connect_ns, pulled);
		fflush(stdout);
	}
	nbd_mount_stop(&mt);
	backend_close(b);
	if (mg)
		managed_close(mg);
	if (rm)
		remote_close(rm);
	return rc;
}

/* Parse start-time's options. */
static int parse(int argc, char **argv, struct tool_opts *t)
{
	static const struct option lo[] = {{"ready", 1, 0, 'r'}, {"attach", 1, 0, 'a'}, {"size", 1, 0, 's'},
					   {"conns", 1, 0, 'c'}, {"count", 1, 0, 'n'}, {"remote", 1, 0, 'R'},
					   {"pull", 1, 0, 'p'}, {0, 0, 0, 0}};
	struct err e = {0};
	for (int c; (c = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
		if (c == 'r' && (!strcmp(optarg, "poll") || !strcmp(optarg, "uevent")))
			t->mo.dev.ready = !strcmp(optarg, "poll") ? NBD_READY_POLL : NBD_READY_UEVENT;
		else if (c == 'a' && !strcmp(optarg, "auto"))
			t->mo.dev.attach = NBD_ATTACH_AUTO;
		else if (c == 'a' && !strcmp(optarg, "netlink"))
			t->mo.dev.attach = NBD_ATTACH_NETLINK;
		else if (c == 'a' && !strcmp(optarg, "ioctl"))
			t->mo.dev.attach = NBD_ATTACH_IOCTL;
		else if (c == 's' && !parse_size(optarg, &t->size, &e))
			continue;
		else if (c == 'c')
			t->mo.conns = atoi(optarg);
		else if (c == 'n')
			t->count = atoi(optarg);
		else if (c == 'R')
			t->remote = optarg;
		else if (c == 'p')
			t->pull = atoi(optarg);
		else
			return -1;
	}
	return t->count > 0 && t->size > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct err e = {0};
	if (argc < 2 || (strcmp(argv[1], "start-time") && strcmp(argv[1], "cleanup") && strcmp(argv[1], "chain"))) {
		fprintf(stderr, "usage: memsync-nbd start-time [--ready poll|uevent] [--attach auto|netlink|ioctl] "
				"[--size BYTES] [--conns N] [--count N] [--remote URI --pull N]\n"
				"       memsync-nbd chain [--size BYTES] [--seed N] [--rate BYTES] [--phase DURATION] "
				"[--kill-seeder BYTES] [-o KEY=VALUE]...\n"
				"       memsync-nbd cleanup\n");
		return 2;
	}
	if (nbd_kernel_probe(&e)) {
		fprintf(stderr, "memsync-nbd: %s\n", e.msg);
		return 2;
	}
	if (!strcmp(argv[1], "chain"))
		return nbd_chain_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "cleanup")) {
		int n = nbd_kernel_cleanup_stale();
		fprintf(stderr, "memsync-nbd: %d stale device%s disconnected\n", n, n == 1 ? "" : "s");
		return 0;
	}
	struct tool_opts t = {.mo = {.conns = 1, .dev = {.index = -1}}, .size = 64ull << 20, .count = 1};
	if (parse(argc - 1, argv + 1, &t)) {
		fprintf(stderr, "memsync-nbd: bad start-time options (see the usage line)\n");
		return 2;
	}
	for (int i = 0; i < t.count; i++)
		if (start_once(&t, i, &e)) {
			fprintf(stderr, "memsync-nbd: %s\n", e.msg);
			return 1;
		}
	return 0;
}
