/*
 * check.h - the assertion macros of memsync's C unit tests. A failed CHECK
 * prints file:line and the expression and counts a failure; main() returns
 * check_done(), which prints "N passed, N failed" and gives the exit code.
 * A test that finds a failure outside a CHECK counts it with check_fail().
 */
#ifndef MEMSYNC_CHECK_H
#define MEMSYNC_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

/* CHECK(expr) or CHECK(expr, fmt, ...): the optional printf-style message
 * says more than the expression (the values seen). */
#define CHECK(expr, ...)                                                                    \
	do {                                                                                \
		if (expr) {                                                                 \
			check_passed++;                                                     \
		} else {                                                                    \
			check_failed++;                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s", __FILE__, __LINE__, #expr); \
			__VA_OPT__(fputs(": ", stderr); fprintf(stderr, __VA_ARGS__);)       \
			fputc('\n', stderr);                                                \
		}                                                                           \
	} while (0)

/* Count a failure found outside a CHECK (its message printed by the caller). */
static inline void check_fail(void)
{
	check_failed++;
}

/* Print the totals; exit code 1 if anything failed. */
static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
