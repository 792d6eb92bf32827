/*
 * plan.h - what `memsync run` was asked for (struct run_plan, filled by
 * run_args.c) and the part of each scenario that comes from it. Used by the
 * runner and by the checks made before the first scenario (preflight.c).
 */
#ifndef MEMSYNC_PLAN_H
#define MEMSYNC_PLAN_H

#include <limits.h>
#include <stdint.h>

#include "approach.h"

#define PLAN_MAX_APPROACHES 16
#define PLAN_MAX_WORKLOADS 16
#define PLAN_MAX_PROFILES 32
#define PLAN_OPT_LEN 96

/* What the command line asked for. */
struct run_plan {
	const struct approach_ops *approaches[PLAN_MAX_APPROACHES];
	int napproaches;
	struct workload workloads[PLAN_MAX_WORKLOADS];
	int nworkloads;
	char profiles[PLAN_MAX_PROFILES][64];
	int nprofiles;
	uint64_t size;
	uint64_t seed;
	int repeat;                  /* measured runs of every scenario */
	int warmup;                  /* warm-up runs before them ("warmup": true, left out of summaries) */
	int require_idle_s;          /* > 0: before the first scenario, wait up to this long for an
	                              * idle machine (load <= RUNNER_IDLE_LOAD_PER_CORE), else refuse */
	int netem_driver;            /* enum netem_driver */
	enum scenario_mode mode;     /* access, or migrations (--migrate) */
	uint64_t migrate_after_ns;   /* writer runs this long before the switch-over */
	uint64_t timeout_ns;         /* per scenario phase */
	int nopts;
	char opts[SCENARIO_MAX_OPTS][2][PLAN_OPT_LEN];
	char out_path[PATH_MAX];     /* JSON Lines file */
	char workroot[PATH_MAX];     /* parent of scenario scratch dirs */
	char cmdline[1024];
};

/* Where scenario work directories go unless --workdir says otherwise. */
#define RUNNER_DEFAULT_WORKROOT "/var/tmp"

/* A machine is idle when its 1-minute load average is at most this per core. */
#define RUNNER_IDLE_LOAD_PER_CORE 0.5

/* Fill the fields of sc that come from the plan (not addresses, ports,
 * workdir, versions: those need the scenario's resources). */
void scenario_fill(struct scenario *sc, const struct run_plan *p, const struct approach_ops *ops,
		   const struct workload *wl, const char *profile, int index);

#endif
