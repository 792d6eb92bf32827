/*
 * runner.h - runs scenarios: topology, the approach's processes, the
 * workload, verification, metrics, one result record per scenario.
 */
#ifndef MEMSYNC_RUNNER_H
#define MEMSYNC_RUNNER_H

#include <stdio.h>

#include "approach.h"

/* What the command line asked for. */
struct run_plan {
	const struct approach_ops *approaches[16];
	int napproaches;
	struct workload workloads[16];
	int nworkloads;
	char profiles[32][64];
	int nprofiles;
	uint64_t size;
	uint64_t seed;
	int repeat;
	int netem_driver;            /* enum netem_driver */
	int migrate;                 /* run migrations instead of workloads */
	uint64_t migrate_after_ns;   /* writer runs this long before the switch-over */
	uint64_t timeout_ns;         /* per scenario phase */
	int nopts;
	char opts[SCENARIO_MAX_OPTS][2][96];
	char out_path[PATH_MAX];     /* JSON Lines file */
	char workroot[PATH_MAX];     /* parent of scenario scratch dirs */
	char cmdline[1024];
};

/* Outcome counts of a run. */
struct run_totals {
	int passed, failed, skipped;
};

/* Run every scenario of the plan, appending records to plan->out_path.
 * Returns 0 when the run completed (see totals for pass/fail), -1 on a
 * harness error or interruption. */
int runner_run(const struct run_plan *plan, struct run_totals *totals, struct err *e);

/* Write the run header record. */
int runner_write_header(FILE *f, const struct run_plan *plan, const char *netem_driver);

#endif
