/*
 * run_args.c - the command line of `memsync run`: options into a run_plan.
 * Approaches, workloads and profiles are loaded and validated here, so that
 * a bad name or data file stops the run before anything starts (exit 2);
 * the runner's preflight checks the rest (options, --out, --workdir).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "netem/profile.h"
#include "netem/topology.h"
#include "runner.h"
#include "units.h"

#define DEFAULT_SIZE (64ull << 20)
#define MAX_SIZE (64ull << 30)
#define DEFAULT_MIGRATE_AFTER_NS 2000000000ull
#define DEFAULT_TIMEOUT_NS 600000000000ull
#define MAX_REPEAT 1000
#define MAX_WARMUP 100
#define DEFAULT_REQUIRE_IDLE_S 120
#define MAX_REQUIRE_IDLE_S 86400

/* Long-only options. */
enum {
	OPT_SEED = 1,
	OPT_NETEM,
	OPT_MIGRATE,
	OPT_MIGRATE_AFTER,
	OPT_TIMEOUT,
	OPT_OUT,
	OPT_WORKDIR,
	OPT_WARMUP,
	OPT_REQUIRE_IDLE,
};

static const struct option longopts[] = {
	{"approach", required_argument, 0, 'a'},
	{"workload", required_argument, 0, 'w'},
	{"profile", required_argument, 0, 'p'},
	{"size", required_argument, 0, 's'},
	{"opt", required_argument, 0, 'o'},
	{"repeat", required_argument, 0, 'r'},
	{"warmup", required_argument, 0, OPT_WARMUP},
	{"seed", required_argument, 0, OPT_SEED},
	{"netem", required_argument, 0, OPT_NETEM},
	{"migrate", no_argument, 0, OPT_MIGRATE},
	{"migrate-after", required_argument, 0, OPT_MIGRATE_AFTER},
	{"timeout", required_argument, 0, OPT_TIMEOUT},
	{"out", required_argument, 0, OPT_OUT},
	{"workdir", required_argument, 0, OPT_WORKDIR},
	{"require-idle", optional_argument, 0, OPT_REQUIRE_IDLE},
	{"quiet", no_argument, 0, 'q'},
	{"verbose", no_argument, 0, 'v'},
	{"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
};

/* Print the options of `memsync run`. */
void run_args_usage(FILE *f)
{
	fprintf(f,
		"run options:\n"
		"  -a, --approach LIST   comma-separated approaches, or all (default: memory,disk); see `memsync list`\n"
		"  -w, --workload LIST   comma-separated workloads (names from harness/workloads or .conf paths;\n"
		"                        default: seq-read)\n"
		"  -p, --profile LIST    comma-separated netem profiles (netem/profiles; default: local)\n"
		"  -s, --size SIZE       region size, e.g. 64M, 1G (default 64M; multiple of 4 KiB)\n"
		"  -o, --opt KEY=VALUE   approach option (repeatable); `memsync help APPROACH` lists them\n"
		"  -r, --repeat N        measured runs of every scenario (default 1)\n"
		"      --warmup N        warm-up runs before them, recorded with \"warmup\": true (default 1)\n"
		"      --seed N          content and workload seed (default 1)\n"
		"      --netem DRIVER    auto|tc|user|none (default auto: tc if the kernel has sch_netem, else user)\n"
		"      --migrate         run migrations (source -> destination while a writer runs) instead of\n"
		"                        the workloads' accesses; use with the migrate-writer workload\n"
		"      --migrate-after D how long the writer runs before the switch-over (default 2s)\n"
		"      --timeout D       limit for every phase of a scenario (default 600s)\n"
		"      --out FILE        JSON Lines output (default results/<date>-<host>/run-<time>.jsonl)\n"
		"      --workdir DIR     scratch space for files (default " RUNNER_DEFAULT_WORKROOT ")\n"
		"      --require-idle[=SECONDS]  wait up to SECONDS (default %d) for the 1-minute load average to\n"
		"                        fall to %.1f per core before the first scenario, else refuse (exit 2);\n"
		"                        without it a busier machine only gets a warning\n"
		"  -q, --quiet / -v, --verbose\n",
		DEFAULT_REQUIRE_IDLE_S, RUNNER_IDLE_LOAD_PER_CORE);
}

/* Split a comma list, calling fn on each item. */
static int each_item(const char *list, int (*fn)(struct run_plan *, const char *, struct err *),
		     struct run_plan *p, struct err *e)
{
	char buf[1024];
	snprintf(buf, sizeof buf, "%s", list);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (fn(p, tok, e))
			return -1;
	return 0;
}

/* Add one approach to the plan. */
static int add_approach(struct run_plan *p, const char *name, struct err *e)
{
	if (!strcmp(name, "all")) {
		for (int i = 0; approach_registry[i]; i++)
			if (add_approach(p, approach_registry[i]->name, e))
				return -1;
		return 0;
	}
	const struct approach_ops *o = approach_find(name);
	if (!o) {
		char known[256] = "";
		for (int i = 0; approach_registry[i]; i++)
			snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
				 approach_registry[i]->name);
		return err_set(e, "unknown approach '%s' (known: %s)", name, known);
	}
	if (p->napproaches >= PLAN_MAX_APPROACHES)
		return err_set(e, "too many approaches");
	p->approaches[p->napproaches++] = o;
	return 0;
}

/* Add one workload (loaded and validated now). */
static int add_workload(struct run_plan *p, const char *name, struct err *e)
{
	if (p->nworkloads >= PLAN_MAX_WORKLOADS)
		return err_set(e, "too many workloads");
	return workload_load(name, &p->workloads[p->nworkloads++], e);
}

/* Add one profile (validated now, so a bad file stops the run before it starts). */
static int add_profile(struct run_plan *p, const char *name, struct err *e)
{
	struct netem_profile prof;
	if (p->nprofiles >= PLAN_MAX_PROFILES)
		return err_set(e, "too many profiles");
	if (profile_load(name, &prof, e))
		return -1;
	snprintf(p->profiles[p->nprofiles++], sizeof p->profiles[0], "%s", name);
	return 0;
}

/* Default output path: results/<date>-<host>/run-<time>.jsonl under the source tree. */
static int default_out(struct run_plan *p, struct err *e)
{
	char host[64] = "host", dir[PATH_MAX];
	gethostname(host, sizeof host - 1);
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	char day[16], hms[16];
	strftime(day, sizeof day, "%Y%m%d", &tm);
	strftime(hms, sizeof hms, "%H%M%S", &tm);
	snprintf(dir, sizeof dir, "%s/results/%s-%s", memsync_source_dir(), day, host);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return err_errno(e, errno, "cannot create %s", dir);
	snprintf(p->out_path, sizeof p->out_path, "%s/run-%s-%d.jsonl", dir, hms, (int)getpid());
	return 0;
}

/* The defaults of a plan, and the command line it came from. */
static void plan_defaults(struct run_plan *p, int argc, char **argv)
{
	memset(p, 0, sizeof *p);
	p->size = DEFAULT_SIZE;
	p->seed = 1;
	p->repeat = 1;
	p->warmup = 1;
	p->netem_driver = NETEM_AUTO;
	p->mode = MODE_ACCESS;
	p->migrate_after_ns = DEFAULT_MIGRATE_AFTER_NS;
	p->timeout_ns = DEFAULT_TIMEOUT_NS;
	snprintf(p->workroot, sizeof p->workroot, "%s", RUNNER_DEFAULT_WORKROOT);
	for (int i = 0; i < argc; i++)
		snprintf(p->cmdline + strlen(p->cmdline), sizeof p->cmdline - strlen(p->cmdline), "%s%s", i ? " " : "",
			 argv[i]);
}

/* "-s/--size" or "--seed": how the user names option c. */
static const char *option_name(int c, char *buf, size_t len)
{
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == c) {
			if (c < 128 && c > ' ')
				snprintf(buf, len, "-%c/--%s", c, o->name);
			else
				snprintf(buf, len, "--%s", o->name);
			return buf;
		}
	return "an option";
}

/* An integer option in [lo, hi]. */
static int parse_int_opt(const char *what, const char *v, long lo, long hi, int *out, struct err *e)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi)
		return err_set(e, "bad %s '%s' (%ld..%ld)", what, v, lo, hi);
	*out = (int)x;
	return 0;
}

/* -o KEY=VALUE. */
static int add_opt(struct run_plan *p, const char *arg, struct err *e)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || p->nopts >= SCENARIO_MAX_OPTS || strlen(arg) >= PLAN_OPT_LEN - 1)
		return err_set(e, "bad option '%s': expected KEY=VALUE", arg);
	snprintf(p->opts[p->nopts][0], PLAN_OPT_LEN, "%.*s", (int)(eq - arg), arg);
	snprintf(p->opts[p->nopts][1], PLAN_OPT_LEN, "%s", eq + 1);
	p->nopts++;
	return 0;
}

/* One option from getopt; the lists are kept in *lists for later. */
static int parse_one(struct run_plan *p, int c, const char *arg, const char **lists, struct err *e)
{
	switch (c) {
	case 'a': lists[0] = arg; return 0;
	case 'w': lists[1] = arg; return 0;
	case 'p': lists[2] = arg; return 0;
	case 's': return parse_size(arg, &p->size, e);
	case 'o': return add_opt(p, arg, e);
	case 'r': return parse_int_opt("--repeat", arg, 1, MAX_REPEAT, &p->repeat, e);
	case OPT_WARMUP: return parse_int_opt("--warmup", arg, 0, MAX_WARMUP, &p->warmup, e);
	case OPT_SEED: {
		char *end;
		errno = 0;
		p->seed = strtoull(arg, &end, 0);
		return errno || *end || !*arg ? err_set(e, "bad --seed '%s'", arg) : 0;
	}
	case OPT_NETEM: {
		enum netem_driver d;
		if (netem_driver_parse(arg, &d, e))
			return -1;
		p->netem_driver = (int)d;
		return 0;
	}
	case OPT_MIGRATE: p->mode = MODE_MIGRATE; return 0;
	case OPT_MIGRATE_AFTER: return parse_duration_ns(arg, &p->migrate_after_ns, e);
	case OPT_TIMEOUT:
		if (parse_duration_ns(arg, &p->timeout_ns, e) || !p->timeout_ns)
			return err_set(e, "bad --timeout '%s'", arg);
		return 0;
	case OPT_OUT: snprintf(p->out_path, sizeof p->out_path, "%s", arg); return 0;
	case OPT_WORKDIR: snprintf(p->workroot, sizeof p->workroot, "%s", arg); return 0;
	case OPT_REQUIRE_IDLE:
		p->require_idle_s = DEFAULT_REQUIRE_IDLE_S;
		return arg ? parse_int_opt("--require-idle", arg, 1, MAX_REQUIRE_IDLE_S, &p->require_idle_s, e) : 0;
	case 'q': log_verbose = 0; return 0;
	case 'v': log_verbose = 2; return 0;
	default: return err_set(e, "bad usage (see memsync --help)");
	}
}

/* After the options: sizes, then the approaches, workloads and profiles, then the output. */
static int plan_finish(struct run_plan *p, const char **lists, struct err *e)
{
	if (p->size == 0 || p->size % CONTENT_BLOCK)
		return err_set(e, "region size %llu is not a positive multiple of 4096", (unsigned long long)p->size);
	if (p->size > MAX_SIZE)
		return err_set(e, "region size above %llu GiB is not supported", MAX_SIZE >> 30);
	if (each_item(lists[0], add_approach, p, e) || each_item(lists[1], add_workload, p, e) ||
	    each_item(lists[2], add_profile, p, e))
		return -1;
	if (!p->napproaches || !p->nworkloads || !p->nprofiles)
		return err_set(e, "empty --approach, --workload or --profile list");
	if (!p->out_path[0])
		return default_out(p, e);
	return 0;
}

/* Parse `memsync run` options into a plan. */
int run_args_parse(int argc, char **argv, struct run_plan *p, struct err *e)
{
	const char *lists[3] = {"memory,disk", "seq-read", "local"}; /* approaches, workloads, profiles */
	plan_defaults(p, argc, argv);
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "a:w:p:s:o:r:qvh", longopts, NULL)) != -1) {
		if (c == 'h') {
			run_args_usage(stdout);
			return 1;
		}
		char name[48];
		/* A value that looks like an option is a value that was forgotten. */
		if (optarg && optarg[0] == '-')
			return err_set(e, "%s needs a value, got '%s' (an option?)", option_name(c, name, sizeof name),
				       optarg);
		if (parse_one(p, c, optarg, lists, e))
			return -1;
	}
	if (optind < argc)
		return err_set(e, "unexpected argument '%s'", argv[optind]);
	return plan_finish(p, lists, e);
}
