/*
 * log.h - human-readable messages on stderr.
 *
 * Results go to JSON Lines files; everything meant for a person (progress,
 * warnings, the reason something is skipped) goes to stderr through these.
 */
#ifndef MEMSYNC_LOG_H
#define MEMSYNC_LOG_H

extern int log_verbose; /* 0 quiet, 1 normal, 2 debug */

/* Print "memsync: <msg>" to stderr. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "memsync: warning: <msg>" to stderr. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "memsync: <msg>" to stderr when log_verbose >= 2. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
