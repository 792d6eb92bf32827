/*
 * preflight.h - what is checked before the first scenario of a run: the
 * approaches' options, --workdir, --out, and an idle machine.
 */
#ifndef MEMSYNC_PREFLIGHT_H
#define MEMSYNC_PREFLIGHT_H

#include <stdio.h>

#include "err.h"
#include "plan.h"

/* Check the plan before anything starts: options, --workdir, --out (opened
 * for appending into *out; *created says the file is new). -1 with e set:
 * refuse the run (bad input). */
int preflight_check(const struct run_plan *p, FILE **out, int *created, struct err *e);
/* --require-idle: wait (bounded) for an idle machine; -1 with e set when it
 * stays busy, or on interruption. */
int preflight_wait_idle(const struct run_plan *p, struct err *e);
/* The 1-minute load average now (-1 when unreadable), with a warning on
 * stderr each time the machine turns busier than an idle one. */
double preflight_load_warn(void);

#endif
