/*
 * drivers.c - the list of link drivers, the none driver, and choosing one
 * (auto = tc where the kernel has sch_netem, else user). The one place that
 * maps enum netem_driver and driver names to struct link_driver.
 */
#include <stdio.h>
#include <string.h>

#include "netem/driver.h"

/* Always available: the hosts share the caller's namespace. */
static int none_available(char *why, size_t len)
{
	(void)why, (void)len;
	return 1;
}

/* No links to make. */
static int none_setup(struct link_ctx *c, struct err *e)
{
	(void)c, (void)e;
	return 0;
}

/* Nothing to count (the caller zeroed out). */
static int none_counters(const struct link_ctx *c, struct link_counters *out, struct err *e)
{
	(void)c, (void)out, (void)e;
	return 0;
}

/* Packets go over the loopback device. */
static const char *none_path(const struct link_ctx *c)
{
	(void)c;
	return "loopback";
}

/* Nothing to stop. */
static void none_teardown(struct link_ctx *c)
{
	(void)c;
}

const struct link_driver link_driver_none = {
	.name = "none",
	.summary = "no namespaces and no link emulation: every host is 127.0.0.1 (baselines)",
	.namespaces = 0,
	.applies_profile = 0,
	.available = none_available,
	.setup = none_setup,
	.attach_stats = none_setup,
	.counters = none_counters,
	.path = none_path,
	.teardown = none_teardown,
};

/* enum netem_driver -> driver; NETEM_AUTO has none. */
static const struct link_driver *const link_drivers[] = {
	[NETEM_TC] = &link_driver_tc,
	[NETEM_USER] = &link_driver_user,
	[NETEM_NONE] = &link_driver_none,
};
#define NDRIVERS (sizeof link_drivers / sizeof link_drivers[0])

/* Availability of driver d, asked once per process. */
static int driver_available(enum netem_driver d, char *why, size_t len)
{
	static int cached[NDRIVERS] = {-1, -1, -1, -1};
	static char reason[NDRIVERS][256];
	if (cached[d] < 0)
		cached[d] = link_drivers[d]->available(reason[d], sizeof reason[d]);
	if (why)
		snprintf(why, len, "%s", cached[d] ? "" : reason[d]);
	return cached[d];
}

/* Parse a driver name. */
int netem_driver_parse(const char *s, enum netem_driver *d, struct err *e)
{
	if (s && !strcmp(s, "auto")) {
		*d = NETEM_AUTO;
		return 0;
	}
	for (size_t i = 0; i < NDRIVERS; i++)
		if (link_drivers[i] && s && !strcmp(s, link_drivers[i]->name)) {
			*d = (enum netem_driver)i;
			return 0;
		}
	return err_set(e, "unknown netem driver '%s' (use auto, tc, user or none)", s ? s : "");
}

/* "auto", "tc", "user", "none". */
const char *netem_driver_name(enum netem_driver d)
{
	return (size_t)d < NDRIVERS && link_drivers[d] ? link_drivers[d]->name : "auto";
}

/* One line about driver d. */
const char *netem_driver_summary(enum netem_driver d)
{
	return (size_t)d < NDRIVERS && link_drivers[d] ? link_drivers[d]->summary
						       : "tc where the kernel has sch_netem, else user";
}

/* Can driver d run here (auto: can any)? */
int netem_driver_available(enum netem_driver d, char *why, size_t len)
{
	if (d == NETEM_AUTO)
		return driver_available(NETEM_TC, NULL, 0) || driver_available(NETEM_USER, why, len);
	return driver_available(d, why, len);
}

/* Does the kernel have sch_netem? Asked once. */
int netem_tc_available(void)
{
	return driver_available(NETEM_TC, NULL, 0);
}

/* The driver for d; auto is tc where the kernel has netem, else user. */
const struct link_driver *link_driver_choose(enum netem_driver d, struct err *e)
{
	char why[256];
	if (d == NETEM_AUTO)
		return link_drivers[netem_tc_available() ? NETEM_TC : NETEM_USER];
	if ((size_t)d >= NDRIVERS || !link_drivers[d]) {
		err_set(e, "no netem driver number %d", (int)d);
		return NULL;
	}
	if (!driver_available(d, why, sizeof why)) {
		err_set(e, "driver %s cannot run here: %s (`memsync-net probe` lists the drivers this machine has; "
			   "choose one with memsync run --netem or memsync-net up --driver; the VM lab, "
			   "harness/vm/vm-run.sh, has sch_netem)", link_drivers[d]->name, why);
		return NULL;
	}
	return link_drivers[d];
}

/* Driver by name. */
const struct link_driver *link_driver_find(const char *name)
{
	for (size_t i = 0; i < NDRIVERS; i++)
		if (link_drivers[i] && !strcmp(link_drivers[i]->name, name))
			return link_drivers[i];
	return NULL;
}
