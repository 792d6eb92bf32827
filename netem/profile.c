/* profile.c - load and validate netem link profiles (see profile.h). */
#include "netem/profile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "units.h"

/* Rate assumed for sizing the queue of an unlimited link (bits/s). */
#define UNLIMITED_SIZING_BPS 10000000000ULL
#define MIN_LIMIT_PKTS 1000ULL
#define MAX_LIMIT_PKTS 10000000ULL

#define PROFILE_SUBDIR "netem/profiles"

/* Where the shipped profiles live: <source dir>/netem/profiles. */
const char *profile_dir(void)
{
	static char dir[300];
	snprintf(dir, sizeof dir, "%s/" PROFILE_SUBDIR, memsync_source_dir());
	return dir;
}

/* Any delay, jitter, rate limit or loss? */
int profile_shapes(const struct netem_profile *p)
{
	return p->delay_ns || p->jitter_ns || p->rate_bps || p->loss > 0;
}

/* Is p one of the shipped profiles (loaded from profile_dir())? */
int profile_is_shipped(const struct netem_profile *p)
{
	char path[512];
	conf_resolve(PROFILE_SUBDIR, p->name, path, sizeof path);
	return p->name[0] && !strcmp(path, p->path);
}

/* Twice the bandwidth-delay product (RTT based) in 1500-byte packets, at least 1000. */
uint64_t profile_default_limit(uint64_t rate_bps, uint64_t delay_ns, uint64_t jitter_ns)
{
	double rate = rate_bps ? (double)rate_bps : (double)UNLIMITED_SIZING_BPS;
	double rtt_s = 2.0 * (double)(delay_ns + jitter_ns) / 1e9;
	double pkts = 2.0 * rate * rtt_s / 8.0 / 1500.0;
	if (pkts < MIN_LIMIT_PKTS)
		return MIN_LIMIT_PKTS;
	if (pkts > MAX_LIMIT_PKTS)
		return MAX_LIMIT_PKTS;
	return (uint64_t)pkts;
}

/* A profile name is [a-z0-9_-]+ (no path). */
static int is_profile_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

/* Parse one value with a units.h parser, turning its message into "file:line: key: msg". */
#define PARSE_FIELD(fn, key, outp)                                                          \
	do {                                                                                \
		const struct conf_entry *ent_ = conf_get(&c, key);                          \
		if (ent_) {                                                                 \
			struct err pe_ = {0};                                               \
			if (fn(ent_->value, outp, &pe_))                                    \
				return conf_error(&c, ent_, e, "%s: %s", key, pe_.msg);     \
		}                                                                           \
	} while (0)

/* Read and check a profile file; name the profile after the file. */
static int profile_parse_file(const char *path, struct netem_profile *p, struct err *e)
{
	static const char *const known[] = {"description", "delay", "jitter", "rate", "loss", "limit", NULL};
	struct conf c;
	memset(p, 0, sizeof *p);
	if (conf_load(&c, path, e) || conf_check_keys(&c, known, e))
		return -1;
	snprintf(p->path, sizeof p->path, "%s", path);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	snprintf(p->name, sizeof p->name, "%.*s", (int)strcspn(base, "."), base);

	const struct conf_entry *desc = conf_get(&c, "description");
	if (!desc)
		return err_set(e, "%s: missing key 'description'", path);
	if (strlen(desc->value) >= sizeof p->description)
		return conf_error(&c, desc, e, "description longer than %zu characters", sizeof p->description - 1);
	snprintf(p->description, sizeof p->description, "%.127s", desc->value);

	PARSE_FIELD(parse_duration_ns, "delay", &p->delay_ns);
	PARSE_FIELD(parse_duration_ns, "jitter", &p->jitter_ns);
	PARSE_FIELD(parse_rate_bps, "rate", &p->rate_bps);
	const struct conf_entry *rate = conf_get(&c, "rate");
	if (rate && !p->rate_bps && strcasecmp(rate->value, "unlimited"))
		return conf_error(&c, rate, e, "rate %s: write unlimited for no rate limit", rate->value);
	PARSE_FIELD(parse_percent, "loss", &p->loss);

	if (p->jitter_ns > p->delay_ns)
		return conf_error(&c, conf_get(&c, "jitter"), e,
				  "jitter (%s) larger than delay (%s)", conf_get(&c, "jitter")->value,
				  conf_get(&c, "delay") ? conf_get(&c, "delay")->value : "0");
	if (p->loss >= 1.0)
		return conf_error(&c, conf_get(&c, "loss"), e, "loss of 100%% lets nothing through");

	const struct conf_entry *lim = conf_get(&c, "limit");
	if (lim) {
		if (!p->rate_bps)
			return conf_error(&c, lim, e, "limit needs a finite rate (rate is unlimited)");
		char *end;
		errno = 0;
		if (!isdigit((unsigned char)lim->value[0]))
			return conf_error(&c, lim, e, "limit '%s': expected a number of packets", lim->value);
		unsigned long long v = strtoull(lim->value, &end, 10);
		if (errno || *end || v == 0 || v > MAX_LIMIT_PKTS)
			return conf_error(&c, lim, e, "limit '%s': expected a number of packets from 1 to %llu",
					  lim->value, MAX_LIMIT_PKTS);
		p->limit_pkts = v;
	} else {
		p->limit_pkts = profile_default_limit(p->rate_bps, p->delay_ns, p->jitter_ns);
	}
	return 0;
}

/* Load by name (shipped profile) or by path. */
int profile_load(const char *name_or_path, struct netem_profile *p, struct err *e)
{
	if (!name_or_path || !*name_or_path)
		return err_set(e, "empty profile name");
	size_t n = strlen(name_or_path);
	int is_path = strchr(name_or_path, '/') || (n > 5 && !strcmp(name_or_path + n - 5, ".conf"));
	if (!is_path && !is_profile_name(name_or_path))
		return err_set(e, "bad profile name '%s' (use a-z, 0-9, '-', '_', or give a path)", name_or_path);
	char path[256];
	conf_resolve(PROFILE_SUBDIR, name_or_path, path, sizeof path);
	if (!is_path && access(path, F_OK))
		return err_errno(e, errno, "unknown profile '%s' (no %s; see `memsync-net list`)", name_or_path, path);
	return profile_parse_file(path, p, e);
}

/* List the shipped profiles by name, in natural order (rtt-2ms before rtt-10ms). */
int profile_list(char (*names)[64], int max, struct err *e)
{
	return conf_list(PROFILE_SUBDIR, names, max, e);
}
