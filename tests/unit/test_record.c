/*
 * test_record.c - unit test of the record writer (harness/util/record.c) and
 * the header (sysinfo.c): records read back with jansson's parser equal what
 * was written, a record far above the old 16 KiB limit is written whole, a
 * record that lost a member is not written, and a write error (/dev/full)
 * is returned to the caller.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "sysinfo.h"
#include "check.h"

/* Write r to a temporary file and parse the one line back (NULL on failure). */
static json_t *round_trip(struct record *r, size_t *line_len)
{
	FILE *f = tmpfile();
	if (!f)
		return NULL;
	int rc = rec_write(r, f);
	CHECK(rc == 0, "rec_write: %s", strerror(errno));
	rewind(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	CHECK(n > 0 && line[n - 1] == '\n', "one line ending in a newline");
	CHECK(getc(f) == EOF, "nothing after the line");
	fclose(f);
	json_error_t je;
	json_t *v = n > 0 ? json_loads(line, 0, &je) : NULL;
	CHECK(v != NULL, "parse: %s", n > 0 ? je.text : "no line");
	if (line_len)
		*line_len = n > 0 ? (size_t)n : 0;
	free(line);
	return v;
}

/* Every member type, escapes, nesting and key order survive the round trip. */
static void test_types(void)
{
	struct record r;
	rec_begin(&r);
	rec_str(&r, "s", "a\"b\\c\n\t\x01 \xc3\xa9");
	rec_str(&r, "null_string", NULL);
	rec_u64(&r, "u", 18446744073709551615ull);
	rec_u64(&r, "u_small", 42);
	rec_i64(&r, "i", -7);
	rec_obj(&r, "o");
	rec_f64(&r, "x", 1.5);
	rec_f64(&r, "nan", NAN);
	rec_f64(&r, "inf", INFINITY);
	rec_end_obj(&r);
	rec_bool(&r, "t", 1);
	rec_null(&r, "n");
	rec_str(&r, "bad_utf8", "x\xff\xfey");
	rec_text(&r, "ti", "123");
	rec_text(&r, "tneg", "-5");
	rec_text(&r, "tr", "0.25");
	rec_text(&r, "tb", "false");
	rec_text(&r, "ts", "1G");
	rec_text(&r, "thex", "0x10");
	rec_text(&r, "tinf", "inf");
	json_t *v = round_trip(&r, NULL);
	if (!v)
		return;
	CHECK(!strcmp(json_string_value(json_object_get(v, "s")), "a\"b\\c\n\t\x01 \xc3\xa9"));
	CHECK(!strcmp(json_string_value(json_object_get(v, "null_string")), ""));
	CHECK(json_is_real(json_object_get(v, "u")) && json_real_value(json_object_get(v, "u")) > 1.8e19,
	      "a u64 above INT64_MAX is kept as a (large) number");
	CHECK(json_integer_value(json_object_get(v, "u_small")) == 42);
	CHECK(json_integer_value(json_object_get(v, "i")) == -7);
	json_t *o = json_object_get(v, "o");
	CHECK(json_real_value(json_object_get(o, "x")) == 1.5);
	CHECK(json_is_null(json_object_get(o, "nan")) && json_is_null(json_object_get(o, "inf")));
	CHECK(json_is_true(json_object_get(v, "t")) && json_is_null(json_object_get(v, "n")));
	CHECK(!strcmp(json_string_value(json_object_get(v, "bad_utf8")), "x??y"), "invalid UTF-8 repaired");
	CHECK(json_integer_value(json_object_get(v, "ti")) == 123 && json_integer_value(json_object_get(v, "tneg")) == -5);
	CHECK(json_real_value(json_object_get(v, "tr")) == 0.25 && json_is_false(json_object_get(v, "tb")));
	CHECK(!strcmp(json_string_value(json_object_get(v, "ts")), "1G"));
	CHECK(!strcmp(json_string_value(json_object_get(v, "thex")), "0x10"));
	CHECK(!strcmp(json_string_value(json_object_get(v, "tinf")), "inf"));
	const char *first = json_object_iter_key(json_object_iter(v));
	CHECK(first && !strcmp(first, "s"), "insertion order kept, first key '%s'", first ? first : "(none)");
	json_decref(v);
}

/* A record of about 1 MiB (many members and one long string) is written whole. */
static void test_big(void)
{
	enum { MEMBERS = 20000, LONG = 300000 };
	char *long_str = malloc(LONG + 1);
	if (!long_str)
		return;
	for (int i = 0; i < LONG; i++)
		long_str[i] = (char)('a' + i % 26);
	long_str[LONG] = '\0';
	struct record r;
	rec_begin(&r);
	rec_str(&r, "long", long_str);
	rec_obj(&r, "many");
	for (int i = 0; i < MEMBERS; i++) {
		char key[32];
		snprintf(key, sizeof key, "member_%05d", i);
		rec_u64(&r, key, (uint64_t)i * 1000003u);
	}
	rec_end_obj(&r);
	rec_str(&r, "last", "after the big parts");
	size_t len = 0;
	json_t *v = round_trip(&r, &len);
	CHECK(len > 64 * 1024, "line of %zu bytes", len);
	if (v) {
		json_t *many = json_object_get(v, "many");
		CHECK(json_object_size(many) == MEMBERS, "%zu members", json_object_size(many));
		CHECK(json_integer_value(json_object_get(many, "member_19999")) == 19999ll * 1000003);
		CHECK(!strcmp(json_string_value(json_object_get(v, "long")), long_str));
		CHECK(!strcmp(json_string_value(json_object_get(v, "last")), "after the big parts"));
	}
	json_decref(v);
	free(long_str);
}

/* Errors reach the caller: a full device, and a record that lost a member. */
static void test_errors(void)
{
	FILE *full = fopen("/dev/full", "w");
	CHECK(full != NULL, "open /dev/full: %s", strerror(errno));
	if (full) {
		struct record r;
		rec_begin(&r);
		rec_str(&r, "k", "v");
		errno = 0;
		CHECK(rec_write(&r, full) == -1 && errno == ENOSPC, "errno %d", errno);
		/* also a record far larger than the stream's buffer */
		rec_begin(&r);
		for (int i = 0; i < 5000; i++)
			rec_str(&r, "same_key_replaced", "0123456789abcdef0123456789abcdef");
		rec_obj(&r, "o");
		for (int i = 0; i < 5000; i++) {
			char key[16];
			snprintf(key, sizeof key, "k%d", i);
			rec_str(&r, key, "0123456789abcdef0123456789abcdef");
		}
		CHECK(rec_write(&r, full) == -1, "a big record on /dev/full");
		fclose(full);
	}
	/* Nesting deeper than RECORD_DEPTH loses members: nothing is written. */
	FILE *f = tmpfile();
	struct record r;
	rec_begin(&r);
	for (int i = 0; i < RECORD_DEPTH + 2; i++)
		rec_obj(&r, "deeper");
	rec_u64(&r, "x", 1);
	errno = 0;
	CHECK(rec_write(&r, f) == -1 && errno == E2BIG, "errno %d", errno);
	CHECK(f && ftell(f) == 0, "nothing written for a failed record");
	/* A record released without writing, and a write to no stream. */
	rec_begin(&r);
	rec_str(&r, "k", "v");
	rec_free(&r);
	rec_begin(&r);
	CHECK(rec_write(&r, NULL) == -1);
	if (f)
		fclose(f);
}

/* The header carries every field README promises, with the bench and params. */
static void test_header(void)
{
	struct record r;
	sysinfo_header(&r, "unit", "user", "test_record");
	rec_obj(&r, "params");
	rec_text(&r, "quick", "1");
	rec_end_obj(&r);
	json_t *v = round_trip(&r, NULL);
	if (!v)
		return;
	static const char *const fields[] = {"memsync_version", "git_commit", "date",     "host",    "kernel",
					     "cpu_model",       "ncpu",       "mem_bytes", "compiler", "cflags",
					     "build_type",      "netem_driver", "command", "params",  "loadavg"};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		CHECK(json_object_get(v, fields[i]) != NULL, "header lacks %s", fields[i]);
	CHECK(!strcmp(json_string_value(json_object_get(v, "type")), "header"));
	CHECK(!strcmp(json_string_value(json_object_get(v, "bench")), "unit"));
	CHECK(json_integer_value(json_object_get(v, "ncpu")) >= 1);
	CHECK(json_integer_value(json_object_get(json_object_get(v, "params"), "quick")) == 1);
	CHECK(json_is_number(json_object_get(json_object_get(v, "loadavg"), "1min")));
	json_decref(v);
	/* memsync run's header has no bench member */
	sysinfo_header(&r, NULL, "none", "run");
	v = round_trip(&r, NULL);
	CHECK(v && !json_object_get(v, "bench"));
	json_decref(v);
}

int main(void)
{
	test_types();
	test_big();
	test_errors();
	test_header();
	return check_done();
}
