/*
 * check.h - the assertion macros of memsync's C unit tests. A failed CHECK
 * prints file:line and the expression and counts a failure; main() returns
 * check_done(), which prints "N passed, N failed" and gives the exit code.
 */
#ifndef MEMSYNC_CHECK_H
#define MEMSYNC_CHECK_H

#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(expr)                                                                     \
	do {                                                                            \
		if (expr) {                                                             \
			check_passed++;                                                 \
		} else {                                                                \
			check_failed++;                                                 \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
		}                                                                       \
	} while (0)

/* Print the totals; exit code 1 if anything failed. */
static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
