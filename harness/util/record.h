/*
 * record.h - JSON Lines result records.
 *
 * The one record writer of memsync: every result line (the run header,
 * scenario records, the bench tools' rows) is built member by member with
 * these calls and written as one line of compact JSON. The record is a
 * jansson object tree, so there is no size limit; a member that cannot be
 * added (out of memory, nesting too deep) makes rec_write() fail instead of
 * producing a truncated line. Read records back with jansson's parser
 * (json_loads) or jq.
 *
 * Every rec_begin() is paired with rec_write() or rec_free(), which release
 * the tree.
 */
#ifndef MEMSYNC_RECORD_H
#define MEMSYNC_RECORD_H

#include <stdint.h>
#include <stdio.h>

#include "hist.h"

#define RECORD_DEPTH 16

struct json_t;

struct record {
	struct json_t *stack[RECORD_DEPTH]; /* [0] the record, [depth] the object being filled */
	int depth;
	int failed; /* a member was lost: rec_write() returns -1 */
};

/* Start a record (an empty object). */
void rec_begin(struct record *r);
/* Open a nested object under key. */
void rec_obj(struct record *r, const char *key);
/* Close the innermost nested object. */
void rec_end_obj(struct record *r);
/* Members. A NULL string is written as "". */
void rec_str(struct record *r, const char *key, const char *val);
void rec_u64(struct record *r, const char *key, uint64_t val);
void rec_i64(struct record *r, const char *key, int64_t val);
/* A real, written with 6 significant digits; NaN and infinities become null. */
void rec_f64(struct record *r, const char *key, double val);
void rec_bool(struct record *r, const char *key, int val);
void rec_null(struct record *r, const char *key);
/* A member typed from text: an integer, a real, true or false, else a string. */
void rec_text(struct record *r, const char *key, const char *text);
/* A latency histogram as {count, mean, min, p50, p90, p99, p999, max} in ns. */
void rec_hist(struct record *r, const char *key, const struct hist *h);
/* Close the record, write it and "\n" to f and flush; release the record.
 * Returns 0, or -1 with errno set when a member was lost (ENOMEM, EINVAL)
 * or the write failed (ENOSPC, EIO...). */
int rec_write(struct record *r, FILE *f);
/* Release a record without writing it. */
void rec_free(struct record *r);

#endif
