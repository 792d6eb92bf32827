/* plan.c - the part of a scenario that comes from the run plan. */
#include <stdio.h>
#include <string.h>

#include "plan.h"

/* The plan's part of a scenario. */
void scenario_fill(struct scenario *sc, const struct run_plan *p, const struct approach_ops *ops,
		   const struct workload *wl, const char *profile, int index)
{
	memset(sc, 0, sizeof *sc);
	sc->ops = ops;
	sc->wl = *wl;
	sc->size = p->size;
	sc->seed = p->seed + (uint64_t)index;
	sc->mode = p->mode;
	snprintf(sc->profile, sizeof sc->profile, "%s", profile);
	for (int i = 0; i < p->nopts; i++) {
		snprintf(sc->opts[i].key, sizeof sc->opts[i].key, "%s", p->opts[i][0]);
		snprintf(sc->opts[i].val, sizeof sc->opts[i].val, "%s", p->opts[i][1]);
	}
	sc->nopts = p->nopts;
}
