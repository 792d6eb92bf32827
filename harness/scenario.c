/* scenario.c - approach options (-o key=value) and the scenario's content model. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "approach.h"
#include "units.h"

/* Last value given for key, or def. */
const char *scenario_opt(const struct scenario *sc, const char *key, const char *def)
{
	for (int i = sc->nopts - 1; i >= 0; i--)
		if (!strcmp(sc->opts[i].key, key))
			return sc->opts[i].val;
	return def;
}

/* Option parsed as a size. */
int scenario_opt_size(const struct scenario *sc, const char *key, uint64_t def, uint64_t *out, struct err *e)
{
	const char *v = scenario_opt(sc, key, NULL);
	if (!v) {
		*out = def;
		return 0;
	}
	struct err sub = {0};
	if (parse_size(v, out, &sub))
		return err_set(e, "option %s=%s: %s", key, v, sub.msg);
	return 0;
}

/* Option parsed as an unsigned integer. */
int scenario_opt_uint(const struct scenario *sc, const char *key, uint64_t def, uint64_t *out, struct err *e)
{
	const char *v = scenario_opt(sc, key, NULL);
	if (!v) {
		*out = def;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end || end == v || *v == '-')
		return err_set(e, "option %s=%s: expected a non-negative integer", key, v);
	*out = x;
	return 0;
}

/* Option parsed as one of a list of names. */
int scenario_opt_enum(const struct scenario *sc, const char *key, const char *const *names, int def, int *out,
		      struct err *e)
{
	const char *v = scenario_opt(sc, key, NULL);
	if (!v) {
		*out = def;
		return 0;
	}
	char list[256] = "";
	for (int i = 0; names[i]; i++) {
		if (!strcmp(v, names[i])) {
			*out = i;
			return 0;
		}
		size_t l = strlen(list);
		snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", names[i]);
	}
	return err_set(e, "option %s=%s: expected one of %s", key, v, list);
}

/* Option parsed as a boolean. */
int scenario_opt_bool(const struct scenario *sc, const char *key, int def, int *out, struct err *e)
{
	static const char *const names[] = {"off", "on", "no", "yes", "false", "true", "0", "1", NULL};
	int i;
	if (scenario_opt_enum(sc, key, names, def, &i, e))
		return -1;
	*out = scenario_opt(sc, key, NULL) ? i & 1 : def;
	return 0;
}

/* Option parsed as a duration; a bare number means milliseconds. */
int scenario_opt_duration(const struct scenario *sc, const char *key, uint64_t def_ns, uint64_t *out_ns,
			  struct err *e)
{
	const char *v = scenario_opt(sc, key, NULL);
	if (!v) {
		*out_ns = def_ns;
		return 0;
	}
	char buf[112];
	size_t n = strlen(v);
	if (n && n < sizeof buf - 3 && v[n - 1] >= '0' && v[n - 1] <= '9') {
		snprintf(buf, sizeof buf, "%sms", v);
		v = buf;
	}
	struct err sub = {0};
	if (parse_duration_ns(v, out_ns, &sub))
		return err_set(e, "option %s=%s: %s", key, scenario_opt(sc, key, ""), sub.msg);
	return 0;
}

/* Seed, size and the live versions array. */
struct content_model scenario_model(const struct scenario *sc)
{
	struct content_model m = {.seed = sc->seed, .size = sc->size, .versions = sc->versions};
	return m;
}

/* The record's name of a scenario mode. */
const char *scenario_mode_name(enum scenario_mode mode)
{
	return mode == MODE_MIGRATE ? "migrate" : "access";
}
