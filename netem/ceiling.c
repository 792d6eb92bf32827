/* ceiling.c - the measured ceiling of each link driver per profile, in netem/ceilings/<driver>.conf (see ceiling.h). */
#include "netem/ceiling.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "units.h"

/* $MEMSYNC_NETEM_CEILINGS or <source dir>/netem/ceilings. */
const char *ceiling_dir(void)
{
	static char dir[300];
	const char *env = getenv("MEMSYNC_NETEM_CEILINGS");
	if (env && *env)
		snprintf(dir, sizeof dir, "%s", env);
	else
		snprintf(dir, sizeof dir, "%s/netem/ceilings", memsync_source_dir());
	return dir;
}

/* <dir>/<driver>.conf; -1 for a driver name that is no file name. */
static int ceiling_path(const char *driver, char *path, size_t len, struct err *e)
{
	if (!*driver || strchr(driver, '/') || driver[0] == '.')
		return err_set(e, "bad driver name '%s'", driver);
	if (snprintf(path, len, "%s/%s.conf", ceiling_dir(), driver) >= (int)len)
		return err_set(e, "ceiling file path too long");
	return 0;
}

/* Load the driver's file into c: 1 loaded, 0 no file, -1 bad file. */
static int ceiling_load(const char *driver, struct conf *c, struct err *e)
{
	char path[400];
	if (ceiling_path(driver, path, sizeof path, e))
		return -1;
	if (access(path, F_OK))
		return 0;
	if (conf_load(c, path, e))
		return -1;
	for (int i = 0; i < c->n; i++) {
		uint64_t bps;
		struct err pe = {0};
		if (parse_rate_bps(c->e[i].value, &bps, &pe))
			return conf_error(c, &c->e[i], e, "%s: %s", c->e[i].key, pe.msg);
		if (!bps)
			return conf_error(c, &c->e[i], e, "%s: a ceiling of %s means nothing", c->e[i].key,
					  c->e[i].value);
	}
	return 1;
}

/* Look up (driver, profile). */
int ceiling_get(const char *driver, const char *profile, double *mbit, struct err *e)
{
	struct conf c;
	int rc = ceiling_load(driver, &c, e);
	if (rc <= 0)
		return rc;
	const struct conf_entry *ent = conf_get(&c, profile);
	uint64_t bps;
	if (!ent || parse_rate_bps(ent->value, &bps, e))
		return ent ? -1 : 0;
	*mbit = (double)bps / 1e6;
	return 1;
}

/* Write c's entries to the driver's file (through a temporary file and rename). */
static int ceiling_write(const char *driver, const struct conf *c, struct err *e)
{
	char path[400], tmp[420];
	if (ceiling_path(driver, path, sizeof path, e))
		return -1;
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (mkdir(ceiling_dir(), 0755) && errno != EEXIST)
		return err_errno(e, errno, "cannot create %s", ceiling_dir());
	FILE *f = fopen(tmp, "w");
	if (!f)
		return err_errno(e, errno, "cannot write %s", tmp);
	fprintf(f, "# TCP throughput (iperf3, one stream) the '%s' link driver delivered per profile,\n"
		   "# stored by `memsync-net ceiling --set` (./run.sh bench netem). A profile whose rate\n"
		   "# is above %.0f %% of its figure marks scenario records \"link_capped\".\n",
		driver, CEILING_REACHED_FRACTION * 100);
	for (int i = 0; i < c->n; i++)
		fprintf(f, "%s = %s\n", c->e[i].key, c->e[i].value);
	if (fclose(f)) {
		unlink(tmp);
		return err_errno(e, errno, "cannot write %s", tmp);
	}
	if (rename(tmp, path))
		return err_errno(e, errno, "cannot rename %s to %s", tmp, path);
	return 0;
}

/* Replace or add the entry of (driver, profile). */
int ceiling_set(const char *driver, const char *profile, double mbit, struct err *e)
{
	struct conf c;
	if (!(mbit > 0) || mbit > 1e9)
		return err_set(e, "ceiling %g Mbit/s: expected a positive figure", mbit);
	if (!*profile || strspn(profile, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(profile))
		return err_set(e, "bad profile name '%s' (a-z, 0-9, '-', '_')", profile);
	int rc = ceiling_load(driver, &c, e);
	if (rc < 0)
		return -1;
	if (rc == 0)
		memset(&c, 0, sizeof c);
	struct conf_entry *ent = (struct conf_entry *)conf_get(&c, profile);
	if (!ent) {
		if (c.n >= CONF_MAX_ENTRIES)
			return err_set(e, "%s: too many entries (max %d)", c.path, CONF_MAX_ENTRIES);
		if (strlen(profile) >= sizeof ent->key)
			return err_set(e, "profile name '%s' too long", profile);
		ent = &c.e[c.n++];
		snprintf(ent->key, sizeof ent->key, "%s", profile);
	}
	snprintf(ent->value, sizeof ent->value, "%.1fmbit", mbit);
	return ceiling_write(driver, &c, e);
}

/* Rate above what the ceiling reaches? */
int ceiling_caps(const struct netem_profile *p, double mbit)
{
	return p->rate_bps && mbit < CEILING_REACHED_FRACTION * (double)p->rate_bps / 1e6;
}
