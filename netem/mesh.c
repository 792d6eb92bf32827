/*
 * mesh.c - the point-to-point mesh both namespace drivers build: every pair
 * of hosts (i, j) is joined by one link, device "v<j>" in host i leading to
 * host j with /32 addresses. The tc driver and the user driver's fast path
 * use veth pairs; the user driver's emulator puts a TUN device at each end.
 * Also the kernel's counters of those devices (/proc/net/dev).
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "netem/driver.h"
#include "netem/link.h"

/* Device "v<peer>" of host i: MTU, queue length, addresses, up. */
int mesh_dev_up(const struct link_ctx *c, int i, int peer, const char *txqueuelen, struct err *e)
{
	const char *ns = c->hosts[i].netns;
	char dev[16], mtu[16], local[24], remote[24];
	snprintf(dev, sizeof dev, "v%d", peer);
	snprintf(mtu, sizeof mtu, "%d", link_mtu());
	snprintf(local, sizeof local, "%s/32", c->hosts[i].addr);
	snprintf(remote, sizeof remote, "%s/32", c->hosts[peer].addr);
	if (cmd_run(e, NULL, 0, "ip", "-n", ns, "link", "set", dev, "mtu", mtu, NULL))
		return -1;
	if (txqueuelen && cmd_run(e, NULL, 0, "ip", "-n", ns, "link", "set", dev, "txqueuelen", txqueuelen, NULL))
		return -1;
	if (cmd_run(e, NULL, 0, "ip", "-n", ns, "addr", "add", local, "peer", remote, "dev", dev, NULL))
		return -1;
	return cmd_run(e, NULL, 0, "ip", "-n", ns, "link", "set", dev, "up", NULL);
}

/* Veth pair between hosts i and j. */
static int mesh_veth_pair(const struct link_ctx *c, int i, int j, int per_packet, struct err *e)
{
	char di[16], dj[16];
	snprintf(di, sizeof di, "v%d", j); /* in host i, leads to j */
	snprintf(dj, sizeof dj, "v%d", i);
	if (cmd_run(e, NULL, 0, "ip", "-n", c->hosts[i].netns, "link", "add", di, "type", "veth", "peer", "name", dj,
		    "netns", c->hosts[j].netns, NULL))
		return -1;
	if (per_packet) {
		struct err ge = {0};
		if (cmd_run(&ge, NULL, 0, "ip", "-n", c->hosts[i].netns, "link", "set", di, "gso_max_segs", "1", NULL) ||
		    cmd_run(&ge, NULL, 0, "ip", "-n", c->hosts[j].netns, "link", "set", dj, "gso_max_segs", "1", NULL))
			log_debug("veth: GSO stays on (%s)", ge.msg);
	}
	return mesh_dev_up(c, i, j, NULL, e) || mesh_dev_up(c, j, i, NULL, e) ? -1 : 0;
}

/* A veth pair for every pair of hosts. */
int mesh_veth(const struct link_ctx *c, int per_packet, struct err *e)
{
	for (int i = 0; i < c->nhosts; i++)
		for (int j = i + 1; j < c->nhosts; j++)
			if (mesh_veth_pair(c, i, j, per_packet, e))
				return -1;
	return 0;
}

/* Buffer for reading /proc/net/dev inside a namespace. */
struct netdev_read {
	char buf[8192];
};

/* Read /proc/thread-self/net/dev (called inside the namespace). */
static int read_netdev(void *arg)
{
	struct netdev_read *r = arg;
	FILE *f = fopen("/proc/thread-self/net/dev", "r");
	if (!f)
		return -1;
	size_t n = fread(r->buf, 1, sizeof r->buf - 1, f);
	fclose(f);
	r->buf[n] = '\0';
	return 0;
}

/* Host 0's "v<N>" devices: tx = host0->others, rx = others->host0. */
int mesh_counters(const struct link_ctx *c, struct link_counters *out, struct err *e)
{
	struct netdev_read r;
	if (netns_run(c->hosts[0].netns, read_netdev, &r, e))
		return err_set(e, "cannot read /proc/net/dev in %s", c->hosts[0].netns);
	for (const char *line = r.buf; *line;) {
		char name[32];
		unsigned long long v[10];
		if (sscanf(line, " %31[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", name, &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) == 11 &&
		    name[0] == 'v' && name[1]) {
			out->bytes[1] += v[0];
			out->packets[1] += v[1];
			out->bytes[0] += v[8];
			out->packets[0] += v[9];
		}
		const char *nl = strchr(line, '\n');
		line = nl ? nl + 1 : line + strlen(line);
	}
	return 0;
}
