/* err.c - first-error-wins error records (see err.h). */
#include "err.h"

#include <stdio.h>
#include <string.h>

/* Format into e unless already set; append errno text when errnum != 0. */
int err_vset(struct err *e, int errnum, const char *fmt, va_list ap)
{
	if (!e || e->set)
		return -1;
	int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	if (n < 0)
		n = 0;
	if (errnum && (size_t)n < sizeof e->msg)
		snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", strerror(errnum));
	e->code = errnum;
	e->set = 1;
	return -1;
}

/* Record a message; returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, 0, fmt, ap);
	va_end(ap);
	return -1;
}

/* Record a message with strerror(errnum) appended; returns -1. */
int err_errno(struct err *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

/* Reset e to "no error". */
void err_clear(struct err *e)
{
	if (!e)
		return;
	e->set = 0;
	e->code = 0;
	e->msg[0] = '\0';
}
