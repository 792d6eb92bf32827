/*
 * runner.h - runs scenarios: topology, the approach's processes, the
 * workload, verification, metrics, one result record per scenario.
 * harness/README.md describes the process model and the protocol.
 */
#ifndef MEMSYNC_RUNNER_H
#define MEMSYNC_RUNNER_H

#include <stdio.h>

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

/* Outcome counts of a run (warm-up runs are counted apart; a failed warm-up
 * also counts as failed). */
struct run_totals {
	int passed, failed, skipped, warmups;
};

/* How a run ended. */
enum run_outcome {
	RUN_COMPLETED,   /* every scenario ran: the totals say pass or fail */
	RUN_BAD_INPUT,   /* refused before anything started: a bad option, an unusable
	                  * --out or --workdir, a machine that did not become idle */
	RUN_ERROR,       /* the harness failed (a result could not be written) */
	RUN_INTERRUPTED, /* SIGINT/SIGTERM: the scenario in progress is recorded as interrupted */
};

/* Run every scenario of the plan, appending records to plan->out_path.
 * On any outcome but RUN_COMPLETED, e says why. */
enum run_outcome runner_run(const struct run_plan *plan, struct run_totals *totals, struct err *e);

/* Write the run header record. */
int runner_write_header(FILE *f, const struct run_plan *plan, const char *netem_driver);

/* Remove what dead runs left behind: every approach's cleanup_stale(), the
 * link layer's namespaces and shared memory, and scenario work directories
 * under workroot whose run is gone. Counts what it removed in *removed. */
int runner_cleanup_stale(const char *workroot, int *removed, struct err *e);

/* Parse `memsync run` arguments (argv[0] = "run") into p (harness/run_args.c):
 * 0, 1 when --help was printed, or -1 with e set (bad usage). */
int run_args_parse(int argc, char **argv, struct run_plan *p, struct err *e);
/* Print the options of `memsync run`. */
void run_args_usage(FILE *f);

#endif
