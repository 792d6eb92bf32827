/*
 * runner.h - runs scenarios: topology, the approach's processes, the
 * workload, verification, metrics, one result record per scenario.
 * harness/README.md describes the process model and the protocol.
 */
#ifndef MEMSYNC_RUNNER_H
#define MEMSYNC_RUNNER_H

#include <stdio.h>

#include "approach.h"
#include "plan.h"

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
