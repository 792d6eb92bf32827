/*
 * test_netem_profile.c - unit test of the netem profile parser: the shipped
 * profiles load with the right numbers, and every kind of bad value fails
 * with "file:line: reason".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	CHECK(rc == -1, "%s: expected failure", name);
	CHECK(!strncmp(e.msg, prefix, strlen(prefix)), "%s: expected prefix '%s', got '%s'", name, prefix, e.msg);
	CHECK(strstr(e.msg, want) != NULL, "%s: expected '%s' in '%s'", name, want, e.msg);
}

/* The shipped profiles load and carry the documented values. */
static void test_shipped(void)
{
	struct netem_profile p;
	struct err e = {0};
	CHECK(!profile_load("wan", &p, &e), "wan: %s", e.msg);
	CHECK(p.delay_ns == 10000000 && p.rate_bps == 1000000000ULL && p.loss == 0, "wan values");
	CHECK(!strcmp(p.name, "wan"), "wan name '%s'", p.name);
	CHECK(p.limit_pkts >= 1000, "wan limit %llu", (unsigned long long)p.limit_pkts);
	/* 2 x BDP: 1 Gbit/s x 20 ms = 2.5 MB = 1667 packets of 1500 B, x2 */
	CHECK(p.limit_pkts > 3000 && p.limit_pkts < 3500, "wan limit %llu", (unsigned long long)p.limit_pkts);
	CHECK(!profile_load("transatlantic", &p, &e), "transatlantic: %s", e.msg);
	CHECK(p.delay_ns == 50000000 && p.rate_bps == 200000000ULL && p.loss > 0.000099 && p.loss < 0.000101,
	      "transatlantic values");
	CHECK(!profile_load("local", &p, &e), "local: %s", e.msg);
	CHECK(p.delay_ns == 0 && p.rate_bps == 0 && p.limit_pkts == 1000, "local values");
	CHECK(!profile_load("lan", &p, &e) && p.delay_ns == 250000, "lan delay");
	CHECK(!profile_load("rtt-40ms", &p, &e) && p.delay_ns == 20000000 && p.rate_bps == 0, "rtt-40ms");

	char names[64][64];
	int n = profile_list(names, 64, &e);
	CHECK(n >= 28, "profile_list: %d (%s)", n, e.msg);
	for (int i = 0; i < n; i++) {
		struct err le = {0};
		CHECK(!profile_load(names[i], &p, &le), "%s: %s", names[i], le.msg);
		CHECK(p.description[0], "%s has no description", names[i]);
	}
	err_clear(&e);
	CHECK(profile_load("no-such-profile", &p, &e) == -1 && strstr(e.msg, "unknown profile"), "unknown: %s",
	      e.msg);
	err_clear(&e);
	CHECK(profile_load("../etc", &p, &e) == -1, "a name with a slash is a path that does not exist");
}

/* A file with every key, including an explicit limit and jitter. */
static void test_good_file(void)
{
	struct netem_profile p;
	struct err e = {0};
	const char *path = write_profile("good", "# comment\ndescription = test link\ndelay = 5ms\njitter = 1ms\n"
						 "rate = 250mbit\nloss = 0.5%\nlimit = 1234\n");
	CHECK(!profile_load(path, &p, &e), "good: %s", e.msg);
	CHECK(p.delay_ns == 5000000 && p.jitter_ns == 1000000 && p.rate_bps == 250000000ULL, "good values");
	CHECK(p.loss > 0.00499 && p.loss < 0.00501 && p.limit_pkts == 1234, "good loss/limit");
	CHECK(!strcmp(p.name, "good") && !strcmp(p.path, path), "good name/path");
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
	BAD("rate-zero-limit", "rate = 0\nlimit = 100\n", 3, "finite rate");
	BAD("rate-unlimited-limit", "rate = unlimited\nlimit = 100\n", 3, "finite rate");
	BAD("limit-zero", "rate = 1gbit\nlimit = 0\n", 3, "number of packets");
	BAD("limit-junk", "rate = 1gbit\nlimit = lots\n", 3, "number of packets");
	BAD("limit-neg", "rate = 1gbit\nlimit = -3\n", 3, "number of packets");
	BAD("no-equals", "delay 5ms\n", 2, "expected 'key = value'");
	BAD("twice", "delay = 1ms\ndelay = 2ms\n", 3, "given twice");
	BAD("empty-value", "delay =\n", 2, "missing value");
#undef BAD
	struct netem_profile p;
	struct err e = {0};
	const char *path = write_profile("no-desc", "delay = 1ms\n");
	CHECK(profile_load(path, &p, &e) == -1 && strstr(e.msg, "missing key 'description'"), "no-desc: %s", e.msg);
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
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_done();
}
