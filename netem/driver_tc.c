/* driver_tc.c - the tc driver: a full mesh of veth pairs with kernel netem on every egress. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "cmd.h"
#include "netem/topology_impl.h"

/* Does the profile shape anything at all? */
static int tc_profile_shapes(const struct netem_profile *p)
{
	return p->delay_ns || p->jitter_ns || p->rate_bps || p->loss > 0;
}

/* netem on host i's device towards host j (device "v<j>"). */
static int tc_add_netem(const struct topology *t, int i, int j, struct err *e)
{
	const struct netem_profile *p = &t->prof;
	char dev[16], limit[32], delay[32], jitter[32], rate[48], loss[32];
	char *argv[32];
	int n = 0;
	snprintf(dev, sizeof dev, "v%d", j);
	snprintf(limit, sizeof limit, "%" PRIu64, p->limit_pkts);
	snprintf(delay, sizeof delay, "%.3fus", (double)p->delay_ns / 1e3);
	snprintf(jitter, sizeof jitter, "%.3fus", (double)p->jitter_ns / 1e3);
	snprintf(rate, sizeof rate, "%" PRIu64 "bit", p->rate_bps);
	snprintf(loss, sizeof loss, "%.6f%%", p->loss * 100.0);
	const char *base[] = {"tc", "-n", t->hosts[i].netns, "qdisc", "add", "dev", dev, "root", "netem",
			      "limit", limit, "delay", delay};
	for (size_t k = 0; k < sizeof base / sizeof base[0]; k++)
		argv[n++] = (char *)base[k];
	if (p->jitter_ns)
		argv[n++] = jitter;
	if (p->rate_bps) {
		argv[n++] = "rate";
		argv[n++] = rate;
	}
	if (p->loss > 0) {
		argv[n++] = "loss";
		argv[n++] = loss;
	}
	argv[n] = NULL;
	return cmd_runv(argv, NULL, 0, e);
}

/* Veth pair between hosts i and j: "v<j>" in i, "v<i>" in j, point-to-point addresses. */
static int tc_link_pair(const struct topology *t, int i, int j, struct err *e)
{
	char di[16], dj[16], ai[24], aj[24];
	snprintf(di, sizeof di, "v%d", j); /* in host i, leads to j */
	snprintf(dj, sizeof dj, "v%d", i);
	snprintf(ai, sizeof ai, "%s/32", t->hosts[i].addr);
	snprintf(aj, sizeof aj, "%s/32", t->hosts[j].addr);
	if (cmd_run(e, NULL, 0, "ip", "-n", t->hosts[i].netns, "link", "add", di, "type", "veth", "peer", "name", dj,
		    "netns", t->hosts[j].netns, NULL))
		return -1;
	/* Same packets as the user driver: its MTU, and no GSO super-packets, so
	 * that netem's loss and limit apply per packet. */
	char mtu[16];
	snprintf(mtu, sizeof mtu, "%d", link_mtu());
	if (cmd_run(e, NULL, 0, "ip", "-n", t->hosts[i].netns, "link", "set", di, "mtu", mtu, NULL) ||
	    cmd_run(e, NULL, 0, "ip", "-n", t->hosts[j].netns, "link", "set", dj, "mtu", mtu, NULL))
		return -1;
	struct err ge = {0};
	if (cmd_run(&ge, NULL, 0, "ip", "-n", t->hosts[i].netns, "link", "set", di, "gso_max_segs", "1", NULL) ||
	    cmd_run(&ge, NULL, 0, "ip", "-n", t->hosts[j].netns, "link", "set", dj, "gso_max_segs", "1", NULL))
		log_debug("tc driver: GSO stays on (%s)", ge.msg);
	if (cmd_run(e, NULL, 0, "ip", "-n", t->hosts[i].netns, "addr", "add", ai, "peer", aj, "dev", di, NULL) ||
	    cmd_run(e, NULL, 0, "ip", "-n", t->hosts[j].netns, "addr", "add", aj, "peer", ai, "dev", dj, NULL) ||
	    cmd_run(e, NULL, 0, "ip", "-n", t->hosts[i].netns, "link", "set", di, "up", NULL) ||
	    cmd_run(e, NULL, 0, "ip", "-n", t->hosts[j].netns, "link", "set", dj, "up", NULL))
		return -1;
	if (tc_profile_shapes(&t->prof) && (tc_add_netem(t, i, j, e) || tc_add_netem(t, j, i, e)))
		return -1;
	return 0;
}

/* Build the mesh. */
int tc_setup(struct topology *t, struct err *e)
{
	for (int i = 0; i < t->nhosts; i++)
		for (int j = i + 1; j < t->nhosts; j++)
			if (tc_link_pair(t, i, j, e))
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

/* Sum rx/tx bytes and packets of every "v<N>" device in a /proc/net/dev text. */
static void sum_veths(const char *text, uint64_t *rx_bytes, uint64_t *rx_pkts, uint64_t *tx_bytes, uint64_t *tx_pkts)
{
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char name[32];
		unsigned long long v[16];
		if (sscanf(line, " %31[^:]: %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", name, &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) != 11)
			continue;
		if (name[0] != 'v' || !name[1])
			continue;
		*rx_bytes += v[0];
		*rx_pkts += v[1];
		*tx_bytes += v[8];
		*tx_pkts += v[9];
	}
}

/* Packets the qdisc on dev in netns dropped ("dropped N" in `tc -s qdisc show`). */
static int qdisc_drops(const char *netns, const char *dev, uint64_t *drops, struct err *e)
{
	char out[4096];
	if (cmd_run(e, out, sizeof out, "tc", "-n", netns, "-s", "qdisc", "show", "dev", dev, NULL))
		return -1;
	for (const char *s = out; (s = strstr(s, "dropped ")); s += 8)
		*drops += strtoull(s + 8, NULL, 10);
	return 0;
}

/* Host 0's veths: tx = host0->others, rx = others->host0; drops from the netem qdiscs. */
int tc_counters(const struct topology *t, struct link_counters *c, struct err *e)
{
	struct netdev_read r;
	if (topo_in_netns(t->hosts[0].netns, read_netdev, &r, e))
		return err_set(e, "cannot read /proc/net/dev in %s", t->hosts[0].netns);
	sum_veths(r.buf, &c->bytes[1], &c->packets[1], &c->bytes[0], &c->packets[0]);
	for (int j = 1; j < t->nhosts; j++) {
		char dev[16];
		snprintf(dev, sizeof dev, "v%d", j);
		if (qdisc_drops(t->hosts[0].netns, dev, &c->drops[0], e) ||
		    qdisc_drops(t->hosts[j].netns, "v0", &c->drops[1], e))
			return -1;
	}
	return 0;
}
