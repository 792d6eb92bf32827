/*
 * conf.h - the one parser for memsync's data files (profiles, workloads).
 *
 * Format: one `key = value` per line; `#` starts a comment; blank lines are
 * ignored. Keys are [a-z0-9_-]+. Errors name the file and the line:
 * "netem/profiles/wan.conf:3: unknown unit 'xs' in delay".
 */
#ifndef MEMSYNC_CONF_H
#define MEMSYNC_CONF_H

#include <stddef.h>

#include "err.h"

#define CONF_MAX_ENTRIES 64

struct conf_entry {
	char key[48];
	char value[208];
	int line;
};

struct conf {
	char path[256];
	int n;
	struct conf_entry e[CONF_MAX_ENTRIES];
};

/* Parse the file at path into c. On error: message "path:line: reason". */
int conf_load(struct conf *c, const char *path, struct err *e);

/* Parse text (already in memory, named `name` in messages) into c. */
int conf_parse(struct conf *c, const char *name, const char *text, struct err *e);

/* The entry for key, or NULL. */
const struct conf_entry *conf_get(const struct conf *c, const char *key);

/* Fail with "path:line: unknown key 'k' (known: ...)" for any key not in the
 * NULL-terminated list `known`. */
int conf_check_keys(const struct conf *c, const char *const *known, struct err *e);

/* Record "path:line: <msg>" for entry ent (or line 0 when ent is NULL). */
int conf_error(const struct conf *c, const struct conf_entry *ent, struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The source tree holding the shipped data files (netem/profiles,
 * harness/workloads): $MEMSYNC_SRC if set, else the tree this was built from. */
const char *memsync_source_dir(void);

/* Resolve a data file: a path (contains '/' or ends in .conf) is taken as
 * is, a name becomes <source dir>/<subdir>/<name>.conf. */
void conf_resolve(const char *subdir, const char *name_or_path, char *out, size_t len);

/* List the names (without .conf) of the data files in <source dir>/<subdir>,
 * sorted; returns the count or -1. */
int conf_list(const char *subdir, char (*names)[64], int max, struct err *e);

#endif
