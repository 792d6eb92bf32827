/*
 * units.h - parsing of sizes, durations and rates, shared by the command
 * line and the data files. All parsers reject junk, negative numbers and
 * overflow, and say which unit they expected.
 */
#ifndef MEMSYNC_UNITS_H
#define MEMSYNC_UNITS_H

#include <stdint.h>

#include "err.h"

/* "4096", "4k", "4K", "4KiB", "64M", "1G", "1.5G" -> bytes (binary units: k = 1024). */
int parse_size(const char *s, uint64_t *out, struct err *e);

/* "20ms", "0.5ms", "100us", "2s", "0" -> nanoseconds. A bare number other
 * than 0 is rejected (the unit is required). */
int parse_duration_ns(const char *s, uint64_t *out, struct err *e);

/* "10gbit", "500mbit", "100kbit", "1000bit", "unlimited"/"0" -> bits/s (0 = unlimited). */
int parse_rate_bps(const char *s, uint64_t *out, struct err *e);

/* "1%", "0.01%" -> probability in [0,1]. */
int parse_percent(const char *s, double *out, struct err *e);

/* Format bytes as "1.0 GiB"/"4.0 KiB" into buf. */
const char *fmt_size(uint64_t bytes, char *buf, int len);

#endif
