/*
 * cmd.h - run helper commands (ip, tc, modprobe) with fork/exec.
 *
 * A failing command records "`ip -n x link ...` failed (exit 1): <stderr>".
 */
#ifndef MEMSYNC_NETEM_CMD_H
#define MEMSYNC_NETEM_CMD_H

#include <stddef.h>

#include "err.h"

/* Run argv (NULL-terminated); stdout into out (may be NULL). 0 on exit 0, else -1. */
int cmd_runv(char *const argv[], char *out, size_t outlen, struct err *e);

/* Run "arg0 args... NULL" as cmd_runv(). */
int cmd_run(struct err *e, char *out, size_t outlen, const char *arg0, ...) __attribute__((sentinel));

#endif
