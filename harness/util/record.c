/* record.c - streaming JSON object writer, one object per line. */
#include "record.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* Append formatted text, marking overflow instead of truncating silently. */
static void put(struct record *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct record *r, const char *fmt, ...)
{
	if (r->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(r->buf + r->len, sizeof r->buf - r->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof r->buf - r->len) {
		r->overflow = 1;
		return;
	}
	r->len += (size_t)n;
}

/* Append s as a JSON string literal. */
static void put_string(struct record *r, const char *s)
{
	put(r, "\"");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			put(r, "\\%c", *p);
		else if (*p == '\n')
			put(r, "\\n");
		else if (*p == '\t')
			put(r, "\\t");
		else if (*p < 0x20)
			put(r, "\\u%04x", *p);
		else
			put(r, "%c", *p);
	}
	put(r, "\"");
}

/* Write the separator and "key": for the next member. */
static void key(struct record *r, const char *k)
{
	if (!r->first[r->depth])
		put(r, ",");
	r->first[r->depth] = 0;
	put_string(r, k);
	put(r, ":");
}

/* Begin a new top-level object. */
void rec_begin(struct record *r)
{
	r->len = 0;
	r->depth = 0;
	r->overflow = 0;
	r->first[0] = 1;
	put(r, "{");
}

/* Begin a nested object. */
void rec_obj(struct record *r, const char *k)
{
	key(r, k);
	put(r, "{");
	if (r->depth + 1 >= RECORD_DEPTH) {
		r->overflow = 1;
		return;
	}
	r->first[++r->depth] = 1;
}

/* End a nested object. */
void rec_end_obj(struct record *r)
{
	put(r, "}");
	if (r->depth > 0)
		r->depth--;
}

/* String member. */
void rec_str(struct record *r, const char *k, const char *v)
{
	key(r, k);
	put_string(r, v);
}

/* Unsigned integer member. */
void rec_u64(struct record *r, const char *k, uint64_t v)
{
	key(r, k);
	put(r, "%llu", (unsigned long long)v);
}

/* Signed integer member. */
void rec_i64(struct record *r, const char *k, int64_t v)
{
	key(r, k);
	put(r, "%lld", (long long)v);
}

/* Floating-point member; NaN and infinities become null. */
void rec_f64(struct record *r, const char *k, double v)
{
	key(r, k);
	if (isfinite(v))
		put(r, "%.6g", v);
	else
		put(r, "null");
}

/* Boolean member. */
void rec_bool(struct record *r, const char *k, int v)
{
	key(r, k);
	put(r, v ? "true" : "false");
}

/* null member. */
void rec_null(struct record *r, const char *k)
{
	key(r, k);
	put(r, "null");
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

/* Finish and emit one line. */
int rec_write(struct record *r, FILE *f)
{
	while (r->depth > 0)
		rec_end_obj(r);
	put(r, "}\n");
	if (r->overflow)
		return -1;
	if (fwrite(r->buf, 1, r->len, f) != r->len || fflush(f))
		return -1;
	return 0;
}
