/* units.c - size, duration, rate and percentage parsers. */
#include "units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Split s into a non-negative number and its unit suffix. */
static int split_number(const char *s, double *num, const char **unit, const char *what, struct err *e)
{
	if (!s || !*s)
		return err_set(e, "empty %s", what);
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '-')
		return err_set(e, "negative %s '%s'", what, s);
	if (!isdigit((unsigned char)*s) && *s != '.')
		return err_set(e, "bad %s '%s': expected a number", what, s);
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || !isfinite(v) || v < 0)
		return err_set(e, "bad %s '%s'", what, s);
	while (isspace((unsigned char)*end))
		end++;
	*num = v;
	*unit = end;
	return 0;
}

/* Bytes with optional binary suffix. */
int parse_size(const char *s, uint64_t *out, struct err *e)
{
	double v;
	const char *u;
	if (split_number(s, &v, &u, "size", e))
		return -1;
	static const struct { const char *name; double mul; } units[] = {
		{"", 1}, {"b", 1}, {"k", 1024.0}, {"kb", 1024.0}, {"kib", 1024.0},
		{"m", 1048576.0}, {"mb", 1048576.0}, {"mib", 1048576.0},
		{"g", 1073741824.0}, {"gb", 1073741824.0}, {"gib", 1073741824.0},
		{"t", 1099511627776.0}, {"tib", 1099511627776.0},
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(u, units[i].name))
			continue;
		double b = v * units[i].mul;
		if (b >= 18446744073709551615.0)
			return err_set(e, "size '%s' too large", s);
		if (b != floor(b))
			return err_set(e, "size '%s' is not a whole number of bytes", s);
		*out = (uint64_t)b;
		return 0;
	}
	return err_set(e, "unknown unit '%s' in size '%s' (use k, M, G, T)", u, s);
}

/* Durations need a unit, except plain 0. */
int parse_duration_ns(const char *s, uint64_t *out, struct err *e)
{
	double v;
	const char *u;
	if (split_number(s, &v, &u, "duration", e))
		return -1;
	static const struct { const char *name; double mul; } units[] = {
		{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"min", 60e9},
	};
	if (!*u) {
		if (v == 0) {
			*out = 0;
			return 0;
		}
		return err_set(e, "duration '%s' needs a unit (ns, us, ms, s)", s);
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcasecmp(u, units[i].name)) {
			double ns = v * units[i].mul;
			if (ns > 1e18)
				return err_set(e, "duration '%s' too large", s);
			*out = (uint64_t)llround(ns);
			return 0;
		}
	return err_set(e, "unknown unit '%s' in duration '%s' (use ns, us, ms, s)", u, s);
}

/* Rates in bits per second, decimal units as tc uses them. */
int parse_rate_bps(const char *s, uint64_t *out, struct err *e)
{
	if (s && !strcasecmp(s, "unlimited")) {
		*out = 0;
		return 0;
	}
	double v;
	const char *u;
	if (split_number(s, &v, &u, "rate", e))
		return -1;
	static const struct { const char *name; double mul; } units[] = {
		{"bit", 1}, {"bps", 1}, {"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {"tbit", 1e12},
	};
	if (!*u) {
		if (v == 0) {
			*out = 0;
			return 0;
		}
		return err_set(e, "rate '%s' needs a unit (kbit, mbit, gbit)", s);
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (!strcasecmp(u, units[i].name)) {
			double b = v * units[i].mul;
			if (b > 1e15)
				return err_set(e, "rate '%s' too large", s);
			*out = (uint64_t)llround(b);
			return 0;
		}
	return err_set(e, "unknown unit '%s' in rate '%s' (use bit, kbit, mbit, gbit)", u, s);
}

/* Percentages 0..100 with a mandatory '%'. */
int parse_percent(const char *s, double *out, struct err *e)
{
	double v;
	const char *u;
	if (split_number(s, &v, &u, "percentage", e))
		return -1;
	if (strcmp(u, "%"))
		return err_set(e, "percentage '%s' needs a '%%' sign", s);
	if (v > 100)
		return err_set(e, "percentage '%s' above 100%%", s);
	*out = v / 100.0;
	return 0;
}

/* Human-readable binary size. */
const char *fmt_size(uint64_t bytes, char *buf, int len)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, (size_t)len, i ? "%.1f %s" : "%.0f %s", v, u[i]);
	return buf;
}
