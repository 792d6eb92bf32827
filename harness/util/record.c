/*
 * record.c - the JSON Lines record writer, on jansson: members go into an
 * object tree, rec_write() serializes it as one compact line. Object keys
 * keep their insertion order (jansson >= 2.8).
 */
#include "record.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Flags of every line: compact separators, reals as %.6g. */
#define REC_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))

/* A JSON string of s; bytes that are not valid UTF-8 become '?'. */
static json_t *string_of(const char *s)
{
	if (!s)
		s = "";
	json_t *v = json_string(s);
	if (v)
		return v;
	char *copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

/* Record the first reason a member was lost; returns -1. */
static int mark(struct record *r, int code)
{
	if (!r->failed)
		r->failed = code;
	return -1;
}

/* Add v (owned; NULL = allocation failed) under key to the innermost open
 * object; returns 0, or -1 after marking the record failed. */
static int put(struct record *r, const char *key, json_t *v)
{
	json_t *obj = r->stack[r->depth];
	if (!v || !obj) { /* no object: an earlier failure, or no rec_begin() */
		json_decref(v);
		return mark(r, obj ? ENOMEM : EINVAL);
	}
	const char *p = key ? key : "";
	while (*p && (unsigned char)*p < 0x80)
		p++;
	if (!*p) /* plain ASCII: the common case, no check needed */
		return json_object_set_new_nocheck(obj, key ? key : "", v) ? mark(r, ENOMEM) : 0;
	json_t *k = string_of(key); /* a key that is not UTF-8: the same repair as values */
	int rc = k ? json_object_set_new_nocheck(obj, json_string_value(k), v) : (json_decref(v), -1);
	json_decref(k);
	return rc ? mark(r, ENOMEM) : 0;
}

/* Begin a new top-level object. */
void rec_begin(struct record *r)
{
	memset(r, 0, sizeof *r);
	r->stack[0] = json_object();
	if (!r->stack[0])
		mark(r, ENOMEM);
}

/* Begin a nested object. */
void rec_obj(struct record *r, const char *k)
{
	if (r->depth + 1 >= RECORD_DEPTH) {
		mark(r, E2BIG);
		return;
	}
	json_t *o = json_object();
	int ok = !put(r, k, json_incref(o));
	/* After a failure the members up to the matching rec_end_obj() are lost too. */
	r->stack[++r->depth] = ok ? o : NULL;
	json_decref(o); /* the parent holds it */
}

/* End a nested object. */
void rec_end_obj(struct record *r)
{
	if (r->depth > 0)
		r->stack[r->depth--] = NULL;
}

/* String member. */
void rec_str(struct record *r, const char *k, const char *v)
{
	put(r, k, string_of(v));
}

/* Unsigned integer member (above INT64_MAX: a real, JSON has no wider integer). */
void rec_u64(struct record *r, const char *k, uint64_t v)
{
	put(r, k, v > INT64_MAX ? json_real((double)v) : json_integer((json_int_t)v));
}

/* Signed integer member. */
void rec_i64(struct record *r, const char *k, int64_t v)
{
	put(r, k, json_integer((json_int_t)v));
}

/* Floating-point member; NaN and infinities become null. */
void rec_f64(struct record *r, const char *k, double v)
{
	put(r, k, isfinite(v) ? json_real(v) : json_null());
}

/* Boolean member. */
void rec_bool(struct record *r, const char *k, int v)
{
	put(r, k, json_boolean(v));
}

/* null member. */
void rec_null(struct record *r, const char *k)
{
	put(r, k, json_null());
}

/* Member typed from its text: integer, real, boolean, else string. */
void rec_text(struct record *r, const char *k, const char *text)
{
	const char *t = text ? text : "";
	if (!strcmp(t, "true") || !strcmp(t, "false")) {
		put(r, k, json_boolean(t[0] == 't'));
		return;
	}
	int numeric = (t[0] >= '0' && t[0] <= '9') || (t[0] == '-' && t[1] >= '0' && t[1] <= '9');
	if (numeric && t[strspn(t, "0123456789+-.eE")] == '\0') {
		char *end;
		errno = 0;
		long long i = strtoll(t, &end, 10);
		if (!*end && !errno) {
			put(r, k, json_integer(i));
			return;
		}
		double d = strtod(t, &end);
		if (!*end && isfinite(d)) {
			put(r, k, json_real(d));
			return;
		}
	}
	put(r, k, string_of(t));
}

/* Summary of a histogram in nanoseconds. */
void rec_hist(struct record *r, const char *k, const struct hist *h)
{
	rec_obj(r, k);
	rec_u64(r, "count", h->count);
	rec_f64(r, "mean_ns", hist_mean(h));
	rec_u64(r, "min_ns", h->count ? h->min_ns : 0);
	rec_u64(r, "p50_ns", hist_percentile(h, 50));
	rec_u64(r, "p90_ns", hist_percentile(h, 90));
	rec_u64(r, "p99_ns", hist_percentile(h, 99));
	rec_u64(r, "p999_ns", hist_percentile(h, 99.9));
	rec_u64(r, "max_ns", h->max_ns);
	rec_end_obj(r);
}

/* Release the tree. */
void rec_free(struct record *r)
{
	json_decref(r->stack[0]);
	memset(r, 0, sizeof *r);
}

/* Serialize, write one line, flush, check the stream; release the tree. */
int rec_write(struct record *r, FILE *f)
{
	char *line = !r->failed && r->stack[0] ? json_dumps(r->stack[0], REC_DUMP_FLAGS) : NULL;
	int failed = r->failed ? r->failed : ENOMEM;
	rec_free(r);
	if (!line) {
		errno = failed;
		return -1;
	}
	size_t len = strlen(line);
	int rc = 0;
	errno = 0;
	if (!f || fwrite(line, 1, len, f) != len || fputc('\n', f) == EOF || fflush(f) || ferror(f)) {
		if (!f || !errno)
			errno = EIO;
		rc = -1;
	}
	free(line);
	return rc;
}
