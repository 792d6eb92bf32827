/* log.c - stderr messages. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int log_verbose = 1;

/* Write one prefixed line to stderr. */
static void log_line(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	vsnprintf(buf, sizeof buf, fmt, ap);
	fprintf(stderr, "memsync: %s%s\n", prefix, buf);
}

/* Informational message, shown unless quiet. */
void log_info(const char *fmt, ...)
{
	if (log_verbose < 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_line("", fmt, ap);
	va_end(ap);
}

/* Warning, always shown. */
void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_line("warning: ", fmt, ap);
	va_end(ap);
}

/* Debug message, shown with -v. */
void log_debug(const char *fmt, ...)
{
	if (log_verbose < 2)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_line("debug: ", fmt, ap);
	va_end(ap);
}
