/*
 * test_netem_profile.c - unit test of the netem profile parser: the shipped
 * profiles load with the right numbers, and every kind of bad value fails
 * with "file:line: reason".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "netem/profile.h"
#include "check.h"

static char tmpdir[] = "/tmp/memsync-profile-test.XXXXXX";

/* Write text into tmpdir/<name>.conf and return its path (static buffer). */
static const char *write_profile(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s.conf", tmpdir, name);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

/* A profile text must fail with "path:line:" and a message containing want. */
static void expect_bad(const char *name, const char *text, int line, const char *want)
{
	struct netem_profile p;
	struct err e = {0};
	const char *path = write_profile(name, text);
	char prefix[300];
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	int rc = profile_load(path, &p, &e);
	if (rc != -1 || strncmp(e.msg, prefix, strlen(prefix)) || !strstr(e.msg, want))
		fprintf(stderr, "%s: expected '%s...%s', got '%s'\n", name, prefix, want, e.msg);
	CHECK(rc == -1);
	CHECK(!strncmp(e.msg, prefix, strlen(prefix)));
	CHECK(strstr(e.msg, want) != NULL);
}

/* The shipped profiles load and carry the documented values. */
static void test_shipped(void)
{
	struct netem_profile p;
	struct err e = {0};
	CHECK(!profile_load("wan", &p, &e));
	CHECK(p.delay_ns == 10000000 && p.rate_bps == 1000000000ULL && p.loss == 0);
	CHECK(!strcmp(p.name, "wan"));
	CHECK(p.limit_pkts >= 1000);
	/* 2 x BDP: 1 Gbit/s x 20 ms = 2.5 MB = 1667 packets of 1500 B, x2 */
	CHECK(p.limit_pkts > 3000 && p.limit_pkts < 3500);
	CHECK(!profile_load("transatlantic", &p, &e));
	CHECK(p.delay_ns == 50000000 && p.rate_bps == 200000000ULL && p.loss > 0.000099 && p.loss < 0.000101);
	CHECK(!profile_load("local", &p, &e));
	CHECK(p.delay_ns == 0 && p.rate_bps == 0 && p.limit_pkts == 1000);
	CHECK(!profile_shapes(&p));
	CHECK(!profile_load("lan", &p, &e) && p.delay_ns == 250000);
	CHECK(profile_shapes(&p) && profile_is_shipped(&p));
	CHECK(!profile_load("rtt-40ms", &p, &e) && p.delay_ns == 20000000 && p.rate_bps == 0);

	char names[64][64];
	int n = profile_list(names, 64, &e);
	CHECK(n >= 28);
	int at2 = -1, at10 = -1;
	for (int i = 0; i < n; i++) {
		at2 = strcmp(names[i], "rtt-2ms") ? at2 : i;
		at10 = strcmp(names[i], "rtt-10ms") ? at10 : i;
	}
	CHECK(at2 >= 0 && at10 == at2 + 4); /* natural order: rtt-2ms, 4, 6, 8, 10 */
	CHECK(profile_list(names, 3, &e) == -1 && strstr(e.msg, "more than 3"));
	err_clear(&e);
	for (int i = 0; i < n; i++) {
		struct err le = {0};
		CHECK(!profile_load(names[i], &p, &le));
		CHECK(p.description[0]);
	}
	err_clear(&e);
	CHECK(profile_load("no-such-profile", &p, &e) == -1 && strstr(e.msg, "unknown profile"));
	err_clear(&e);
	CHECK(profile_load("../etc", &p, &e) == -1);
}

/* A file with every key, including an explicit limit and jitter. */
static void test_good_file(void)
{
	struct netem_profile p;
	struct err e = {0};
	const char *path = write_profile("good", "# comment\ndescription = test link\ndelay = 5ms\njitter = 1ms\n"
						 "rate = 250mbit\nloss = 0.5%\nlimit = 1234\n");
	CHECK(!profile_load(path, &p, &e));
	CHECK(p.delay_ns == 5000000 && p.jitter_ns == 1000000 && p.rate_bps == 250000000ULL);
	CHECK(p.loss > 0.00499 && p.loss < 0.00501 && p.limit_pkts == 1234);
	CHECK(!strcmp(p.name, "good") && !strcmp(p.path, path));
	CHECK(profile_shapes(&p) && !profile_is_shipped(&p));
}

/* Every kind of bad value names file and line. */
static void test_bad_files(void)
{
	const char *d = "description = x\n";
	char buf[512];
#define BAD(name, body, line, want) (snprintf(buf, sizeof buf, "%s%s", d, body), expect_bad(name, buf, line, want))
	BAD("neg-delay", "delay = -5ms\n", 2, "negative");
	BAD("unit-delay", "delay = 5xs\n", 2, "unknown unit");
	BAD("nounit-delay", "delay = 5\n", 2, "needs a unit");
	BAD("jitter-big", "delay = 1ms\njitter = 2ms\n", 3, "jitter");
	BAD("loss-big", "loss = 150%\n", 2, "above 100%");
	BAD("loss-nosign", "loss = 5\n", 2, "'%'");
	BAD("loss-all", "loss = 100%\n", 2, "nothing through");
	BAD("unknown-key", "delya = 5ms\n", 2, "unknown key 'delya'");
	BAD("rate-unit", "rate = 5furlongs\n", 2, "unknown unit");
	BAD("rate-zero", "rate = 0\n", 2, "rate 0: write unlimited");
	BAD("rate-zero-unit", "rate = 0mbit\n", 2, "write unlimited");
	BAD("rate-unlimited-limit", "rate = unlimited\nlimit = 100\n", 3, "finite rate");
	BAD("limit-zero", "rate = 1gbit\nlimit = 0\n", 3, "number of packets");
	BAD("limit-junk", "rate = 1gbit\nlimit = lots\n", 3, "number of packets");
	BAD("limit-neg", "rate = 1gbit\nlimit = -3\n", 3, "number of packets");
	BAD("no-equals", "delay 5ms\n", 2, "expected 'key = value'");
	BAD("twice", "delay = 1ms\ndelay = 2ms\n", 3, "given twice");
	BAD("empty-value", "delay =\n", 2, "missing value");
	BAD("binary-ctl", "delay = 1ms\n\x01rate = 1gbit\n", 3, "binary data (byte 0x01 in column 1)");
	BAD("binary-utf8", "# caf\xc3\xa9 is fine\ndelay = 1ms\xff\n", 3, "byte 0xff in column 12");
#undef BAD
	struct netem_profile p;
	struct err e = {0};
	const char *path = write_profile("no-desc", "delay = 1ms\n");
	CHECK(profile_load(path, &p, &e) == -1 && strstr(e.msg, "missing key 'description'"));
}

/* A NUL byte on line 3 (the parser must not stop reading at it). */
static void test_nul(void)
{
	static const char text[] = "description = x\ndelay = 1ms\nrate = 1g\0bit\n";
	char path[300];
	snprintf(path, sizeof path, "%s/nul.conf", tmpdir);
	FILE *f = fopen(path, "w");
	fwrite(text, 1, sizeof text - 1, f);
	fclose(f);
	struct netem_profile p;
	struct err e = {0};
	char want[400];
	snprintf(want, sizeof want, "%s:3: binary data (byte 0x00 in column 10)", path);
	CHECK(profile_load(path, &p, &e) == -1 && strstr(e.msg, want));
}

/* Run all tests in a scratch directory. */
int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_shipped();
	test_good_file();
	test_bad_files();
	test_nul();
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_done();
}
