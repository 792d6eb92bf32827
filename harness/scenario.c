/* scenario.c - approach options (-o key=value) and the scenario's content model. */
#include <errno.h>
#include <stdlib.h>
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

/* Seed, size and the live versions array. */
struct content_model scenario_model(const struct scenario *sc)
{
	struct content_model m = {.seed = sc->seed, .size = sc->size, .versions = sc->versions};
	return m;
}
