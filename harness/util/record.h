/*
 * record.h - JSON Lines result records.
 *
 * A small streaming JSON writer for one record per line: the run header
 * (tool version, commit, date, kernel, CPU, compiler, every parameter) and
 * one record per scenario. Reading results back is left to jq/jansson.
 */
#ifndef MEMSYNC_RECORD_H
#define MEMSYNC_RECORD_H

#include <stdint.h>
#include <stdio.h>

#include "hist.h"

#define RECORD_MAX 16384
#define RECORD_DEPTH 8

struct record {
	char buf[RECORD_MAX];
	size_t len;
	int depth;
	int first[RECORD_DEPTH]; /* no member written yet at this depth */
	int overflow;
};

/* Start a record: "{". */
void rec_begin(struct record *r);
/* Open a nested object under key. */
void rec_obj(struct record *r, const char *key);
/* Close the innermost nested object. */
void rec_end_obj(struct record *r);
/* Members. */
void rec_str(struct record *r, const char *key, const char *val);
void rec_u64(struct record *r, const char *key, uint64_t val);
void rec_i64(struct record *r, const char *key, int64_t val);
void rec_f64(struct record *r, const char *key, double val);
void rec_bool(struct record *r, const char *key, int val);
void rec_null(struct record *r, const char *key);
/* A latency histogram as {count, mean, min, p50, p90, p99, p999, max} in ns. */
void rec_hist(struct record *r, const char *key, const struct hist *h);
/* Close the record, append "\n" and write it to f; returns -1 on overflow or I/O error. */
int rec_write(struct record *r, FILE *f);

#endif
