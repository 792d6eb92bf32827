/*
 * err.h - the error convention of memsync.
 *
 * A function that can fail takes a `struct err *` last, records a message
 * (with errno text where one applies) and returns -1. The first error
 * recorded wins: later calls do not overwrite it, so the root cause ends up
 * in the result record. No exit() in library code.
 */
#ifndef MEMSYNC_ERR_H
#define MEMSYNC_ERR_H

#include <stdarg.h>

struct err {
	int set;         /* 1 once a message is recorded */
	int code;        /* errno value, 0 if none */
	char msg[512];
};

/* Record a formatted message unless one is already recorded; returns -1. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* As err_set(), and append ": strerror(errnum)"; returns -1. */
int err_errno(struct err *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* As err_set() with a va_list. */
int err_vset(struct err *e, int errnum, const char *fmt, va_list ap);

/* Forget the recorded error. */
void err_clear(struct err *e);

#endif
