/*
 * driver_tc.c - the tc driver: a full mesh of veth pairs with kernel netem
 * on every egress. A profile that shapes nothing gets plain veth pairs with
 * no qdisc (and GSO on); a shaping profile gets gso_max_segs 1, so that
 * netem's loss and limit apply per packet.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "netem/driver.h"

/* netem on host i's device towards host j (device "v<j>"). */
static int tc_add_netem(const struct link_ctx *c, int i, int j, struct err *e)
{
	const struct netem_profile *p = c->prof;
	char dev[16], limit[32], delay[32], jitter[32], rate[48], loss[32];
	char *argv[32];
	int n = 0;
	snprintf(dev, sizeof dev, "v%d", j);
	snprintf(limit, sizeof limit, "%" PRIu64, p->limit_pkts);
	snprintf(delay, sizeof delay, "%.3fus", (double)p->delay_ns / 1e3);
	snprintf(jitter, sizeof jitter, "%.3fus", (double)p->jitter_ns / 1e3);
	snprintf(rate, sizeof rate, "%" PRIu64 "bit", p->rate_bps);
	snprintf(loss, sizeof loss, "%.6f%%", p->loss * 100.0);
	const char *base[] = {"tc", "-n", c->hosts[i].netns, "qdisc", "add", "dev", dev, "root", "netem",
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

/* The veth mesh, then netem on both ends of every pair when the profile shapes. */
static int tc_setup(struct link_ctx *c, struct err *e)
{
	int shapes = profile_shapes(c->prof);
	if (mesh_veth(c, shapes, e))
		return -1;
	for (int i = 0; shapes && i < c->nhosts; i++)
		for (int j = i + 1; j < c->nhosts; j++)
			if (tc_add_netem(c, i, j, e) || tc_add_netem(c, j, i, e))
				return -1;
	return 0;
}

/* Try to add a netem qdisc on lo in a throwaway namespace. */
static int tc_probe_qdisc(char *why, size_t len)
{
	char ns[64];
	struct err e = {0};
	snprintf(ns, sizeof ns, "ms%d-probe", (int)getpid());
	if (cmd_run(&e, NULL, 0, "ip", "netns", "add", ns, NULL)) {
		snprintf(why, len, "cannot create a network namespace: %s", e.msg);
		return 0;
	}
	int ok = !cmd_run(&e, NULL, 0, "tc", "-n", ns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
			  NULL);
	if (!ok)
		snprintf(why, len, "this kernel has no netem qdisc (sch_netem): %s", e.msg);
	struct err de = {0};
	cmd_run(&de, NULL, 0, "ip", "netns", "del", ns, NULL);
	return ok;
}

/* Does the kernel have sch_netem (loading it quietly)? */
static int tc_available(char *why, size_t len)
{
	struct stat st;
	if (stat("/sys/module/sch_netem", &st)) {
		struct err e = {0};
		cmd_run(&e, NULL, 0, "modprobe", "-q", "sch_netem", NULL);
	}
	return tc_probe_qdisc(why, len);
}

/* Packets the qdisc on dev in netns dropped ("dropped N" in `tc -s qdisc show`). */
static int tc_qdisc_drops(const char *netns, const char *dev, uint64_t *drops, struct err *e)
{
	char out[4096];
	if (cmd_run(e, out, sizeof out, "tc", "-n", netns, "-s", "qdisc", "show", "dev", dev, NULL))
		return -1;
	for (const char *s = out; (s = strstr(s, "dropped ")); s += 8)
		*drops += strtoull(s + 8, NULL, 10);
	return 0;
}

/* Host 0's veth counters; drops from the netem qdiscs at both ends. */
static int tc_counters(const struct link_ctx *c, struct link_counters *out, struct err *e)
{
	if (mesh_counters(c, out, e))
		return -1;
	for (int j = 1; j < c->nhosts; j++) {
		char dev[16];
		snprintf(dev, sizeof dev, "v%d", j);
		if (tc_qdisc_drops(c->hosts[0].netns, dev, &out->drops[0], e) ||
		    tc_qdisc_drops(c->hosts[j].netns, "v0", &out->drops[1], e))
			return -1;
	}
	return 0;
}

/* Kernel objects only: nothing to map. */
static int tc_attach_stats(struct link_ctx *c, struct err *e)
{
	(void)c, (void)e;
	return 0;
}

/* "netem", or "veth" when the profile shapes nothing. */
static const char *tc_path(const struct link_ctx *c)
{
	return profile_shapes(c->prof) ? "netem" : "veth";
}

/* The pairs go with the namespaces. */
static void tc_teardown(struct link_ctx *c)
{
	(void)c;
}

const struct link_driver link_driver_tc = {
	.name = "tc",
	.summary = "kernel netem on the egress of a full mesh of veth pairs (needs sch_netem)",
	.namespaces = 1,
	.applies_profile = 1,
	.available = tc_available,
	.setup = tc_setup,
	.attach_stats = tc_attach_stats,
	.counters = tc_counters,
	.path = tc_path,
	.teardown = tc_teardown,
};
