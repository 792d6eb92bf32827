/*
 * main.c - the `memsync` command: run scenarios, list what exists, explain
 * approaches. run.sh is the friendly front end (build, install, plot); this
 * binary is what it calls.
 *
 * Exit codes: 0 every scenario passed (or was skipped), 1 a scenario failed
 * or the harness failed, 2 bad usage or bad input (nothing was started).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "approach.h"
#include "build_info.h"
#include "conf.h"
#include "log.h"
#include "netem/profile.h"
#include "netem/topology.h"
#include "runner.h"
#include "sysinfo.h"
#include "units.h"

/* Print the main usage text. */
static void usage(FILE *f)
{
	fprintf(f,
		"memsync %s - synchronize Linux memory regions over an emulated network, and measure it\n"
		"\n"
		"usage:\n"
		"  memsync run [options]        run scenarios: approaches x workloads x profiles x repeat\n"
		"  memsync list [what]          list approaches, workloads and profiles (what: approaches|workloads|profiles)\n"
		"  memsync help [approach]      this text, or an approach's description and -o options\n"
		"  memsync header --bench NAME [--netem DRIVER] [--command TEXT] [--param KEY=VALUE]...\n"
		"                               the header record that starts a bench's results file, on stdout\n"
		"\n"
		"run options:\n"
		"  -a, --approach LIST   comma-separated approaches, or all (default: memory,disk); see `memsync list`\n"
		"  -w, --workload LIST   comma-separated workloads (names from harness/workloads or .conf paths;\n"
		"                        default: seq-read)\n"
		"  -p, --profile LIST    comma-separated netem profiles (netem/profiles; default: local)\n"
		"  -s, --size SIZE       region size, e.g. 64M, 1G (default 64M; multiple of 4 KiB)\n"
		"  -o, --opt KEY=VALUE   approach option (repeatable); `memsync help APPROACH` lists them\n"
		"  -r, --repeat N        run every scenario N times (default 1)\n"
		"      --seed N          content and workload seed (default 1)\n"
		"      --netem DRIVER    auto|tc|user|none (default auto: tc if the kernel has sch_netem, else user)\n"
		"      --migrate         run migrations (source -> destination while a writer runs) instead of\n"
		"                        the workloads' accesses; use with the migrate-writer workload\n"
		"      --migrate-after D how long the writer runs before the switch-over (default 2s)\n"
		"      --timeout D       limit for every phase of a scenario (default 600s)\n"
		"      --out FILE        JSON Lines output (default results/<date>-<host>/run-<time>.jsonl)\n"
		"      --workdir DIR     scratch space for files (default /var/tmp)\n"
		"  -q, --quiet / -v, --verbose\n"
		"\n"
		"Every scenario verifies, byte for byte, that the workload's view and the remote copy equal\n"
		"the content model; a mismatch fails the scenario and names the first bad byte.\n"
		"Results: one header record, then one record per scenario (status pass|fail|skip).\n",
		MEMSYNC_VERSION);
}

/* Print every approach with capabilities or why it is unsupported. */
static void list_approaches(void)
{
	printf("approaches:\n");
	for (int i = 0; approach_registry[i]; i++) {
		const struct approach_ops *o = approach_registry[i];
		struct err e = {0};
		const char *why = o->unsupported;
		if (!why && o->probe && o->probe(&e))
			why = e.msg;
		printf("  %-8s %s%s%s%s%s\n", o->name, o->summary, o->caps & CAP_WRITE ? " [write]" : "",
		       o->caps & CAP_PREFETCH ? " [prefetch]" : "", o->caps & CAP_MIGRATE ? " [migrate]" : "",
		       o->caps & CAP_REMOTE ? " [network]" : "");
		if (why)
			printf("           unsupported here: %s\n", why);
	}
}

/* Print the shipped workloads with their descriptions. */
static int list_workloads(void)
{
	char names[64][64];
	struct err e = {0};
	int n = workload_list(names, 64, &e);
	if (n < 0) {
		fprintf(stderr, "memsync: %s\n", e.msg);
		return -1;
	}
	printf("workloads (harness/workloads/*.conf):\n");
	for (int i = 0; i < n; i++) {
		struct workload w;
		err_clear(&e);
		if (workload_load(names[i], &w, &e))
			printf("  %-14s INVALID: %s\n", names[i], e.msg);
		else
			printf("  %-14s %s\n", names[i], w.description);
	}
	return 0;
}

/* Print the shipped profiles. */
static int list_profiles(void)
{
	char names[64][64];
	struct err e = {0};
	int n = profile_list(names, 64, &e);
	if (n < 0) {
		fprintf(stderr, "memsync: %s\n", e.msg);
		return -1;
	}
	printf("profiles (netem/profiles/*.conf; RTT = 2 x delay), netem here: %s:\n",
	       netem_tc_available() ? "kernel sch_netem (tc)" : "no sch_netem, userspace emulator (user)");
	for (int i = 0; i < n; i++) {
		struct netem_profile p;
		err_clear(&e);
		if (profile_load(names[i], &p, &e))
			printf("  %-14s INVALID: %s\n", names[i], e.msg);
		else
			printf("  %-14s %s\n", names[i], p.description);
	}
	return 0;
}

/* `memsync help NAME`: summary, capabilities, options. */
static int help_approach(const char *name)
{
	const struct approach_ops *o = approach_find(name);
	if (!o) {
		fprintf(stderr, "memsync: unknown approach '%s' (see `memsync list approaches`)\n", name);
		return 2;
	}
	printf("%s: %s\n", o->name, o->summary);
	if (o->unsupported)
		printf("unsupported in this build: %s\n", o->unsupported);
	printf("options (-o KEY=VALUE):\n");
	if (!o->options || !o->options[0].name)
		printf("  (none)\n");
	for (const struct approach_opt *opt = o->options; opt && opt->name; opt++)
		printf("  %-18s %s (default: %s)\n", opt->name, opt->help, opt->def);
	printf("see approaches/%s/README.md for the design and the measurements it supports\n", o->name);
	return 0;
}

/* Check that registered approaches fill their mandatory hooks. */
static int check_registry(struct err *e)
{
	for (int i = 0; approach_registry[i]; i++) {
		const struct approach_ops *o = approach_registry[i];
		if (!o->name || !o->summary || !o->open || !o->close)
			return err_set(e, "approach #%d (%s) lacks a mandatory hook (name, summary, open, close)", i,
				       o->name ? o->name : "?");
		if ((o->caps & CAP_REMOTE) && (!o->serve || !o->remote_read || !o->serve_stop))
			return err_set(e, "approach %s has CAP_REMOTE but lacks serve/remote_read/serve_stop", o->name);
		if ((o->caps & CAP_MIGRATE) && (!o->migrate_source || !o->migrate_dest))
			return err_set(e, "approach %s has CAP_MIGRATE but lacks migrate_source/migrate_dest", o->name);
	}
	return 0;
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
	if (p->napproaches >= 16)
		return err_set(e, "too many approaches");
	p->approaches[p->napproaches++] = o;
	return 0;
}

/* Add one workload (loaded and validated now). */
static int add_workload(struct run_plan *p, const char *name, struct err *e)
{
	if (p->nworkloads >= 16)
		return err_set(e, "too many workloads");
	return workload_load(name, &p->workloads[p->nworkloads++], e);
}

/* Add one profile (validated now, so a bad file stops the run before it starts). */
static int add_profile(struct run_plan *p, const char *name, struct err *e)
{
	struct netem_profile prof;
	if (p->nprofiles >= 32)
		return err_set(e, "too many profiles");
	if (profile_load(name, &prof, e))
		return -1;
	snprintf(p->profiles[p->nprofiles++], 64, "%s", name);
	return 0;
}

/* Reject -o keys that no selected approach knows. */
static int check_opts(const struct run_plan *p, struct err *e)
{
	for (int i = 0; i < p->nopts; i++) {
		int known = 0;
		for (int a = 0; a < p->napproaches; a++)
			for (const struct approach_opt *o = p->approaches[a]->options; o && o->name; o++)
				if (!strcmp(o->name, p->opts[i][0]))
					known = 1;
		if (!known)
			return err_set(e, "option '%s' is not known to any selected approach (see `memsync help APPROACH`)",
				       p->opts[i][0]);
	}
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

/* Parse `memsync run` options into a plan. Returns 0, or 2 for bad input. */
static int parse_run(int argc, char **argv, struct run_plan *p, struct err *e)
{
	static const struct option longopts[] = {
		{"approach", required_argument, 0, 'a'}, {"workload", required_argument, 0, 'w'},
		{"profile", required_argument, 0, 'p'},  {"size", required_argument, 0, 's'},
		{"opt", required_argument, 0, 'o'},      {"repeat", required_argument, 0, 'r'},
		{"seed", required_argument, 0, 1},       {"netem", required_argument, 0, 2},
		{"migrate", no_argument, 0, 3},          {"migrate-after", required_argument, 0, 4},
		{"timeout", required_argument, 0, 5},    {"out", required_argument, 0, 6},
		{"workdir", required_argument, 0, 7},    {"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'},        {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *approaches = "memory,disk", *workloads = "seq-read", *profiles = "local";
	memset(p, 0, sizeof *p);
	p->size = 64 << 20;
	p->seed = 1;
	p->repeat = 1;
	p->netem_driver = NETEM_AUTO;
	p->migrate_after_ns = 2000000000ull;
	p->timeout_ns = 600000000000ull;
	snprintf(p->workroot, sizeof p->workroot, "/var/tmp");
	for (int i = 0; i < argc; i++)
		snprintf(p->cmdline + strlen(p->cmdline), sizeof p->cmdline - strlen(p->cmdline), "%s%s", i ? " " : "",
			 argv[i]);
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "a:w:p:s:o:r:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': approaches = optarg; break;
		case 'w': workloads = optarg; break;
		case 'p': profiles = optarg; break;
		case 's':
			if (parse_size(optarg, &p->size, e))
				return 2;
			break;
		case 'o': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || p->nopts >= SCENARIO_MAX_OPTS || strlen(optarg) >= 95)
				return err_set(e, "bad option '%s': expected KEY=VALUE", optarg), 2;
			snprintf(p->opts[p->nopts][0], 96, "%.*s", (int)(eq - optarg), optarg);
			snprintf(p->opts[p->nopts][1], 96, "%s", eq + 1);
			p->nopts++;
			break;
		}
		case 'r': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 1000)
				return err_set(e, "bad --repeat '%s' (1..1000)", optarg), 2;
			p->repeat = (int)v;
			break;
		}
		case 1: {
			char *end;
			p->seed = strtoull(optarg, &end, 0);
			if (*end || !*optarg)
				return err_set(e, "bad --seed '%s'", optarg), 2;
			break;
		}
		case 2: {
			enum netem_driver d;
			if (netem_driver_parse(optarg, &d, e))
				return 2;
			p->netem_driver = (int)d;
			break;
		}
		case 3: p->migrate = 1; break;
		case 4:
			if (parse_duration_ns(optarg, &p->migrate_after_ns, e))
				return 2;
			break;
		case 5:
			if (parse_duration_ns(optarg, &p->timeout_ns, e) || !p->timeout_ns)
				return err_set(e, "bad --timeout '%s'", optarg), 2;
			break;
		case 6: snprintf(p->out_path, sizeof p->out_path, "%s", optarg); break;
		case 7: snprintf(p->workroot, sizeof p->workroot, "%s", optarg); break;
		case 'q': log_verbose = 0; break;
		case 'v': log_verbose = 2; break;
		case 'h': usage(stdout); exit(0);
		default: return err_set(e, "bad usage (see memsync --help)"), 2;
		}
	}
	if (optind < argc)
		return err_set(e, "unexpected argument '%s'", argv[optind]), 2;
	if (p->size == 0 || p->size % CONTENT_BLOCK)
		return err_set(e, "region size %llu is not a positive multiple of 4096", (unsigned long long)p->size), 2;
	if (p->size > (64ull << 30))
		return err_set(e, "region size above 64 GiB is not supported"), 2;
	if (each_item(approaches, add_approach, p, e) || each_item(workloads, add_workload, p, e) ||
	    each_item(profiles, add_profile, p, e) || check_opts(p, e))
		return 2;
	if (!p->out_path[0] && default_out(p, e))
		return 2;
	return 0;
}

/* `memsync header`: a bench script's header record (sysinfo.h) on stdout; the
 * --param values are typed (integer, real, true/false, else string). */
static int cmd_header(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"bench", required_argument, 0, 'b'},   {"netem", required_argument, 0, 'n'},
		{"command", required_argument, 0, 'c'}, {"param", required_argument, 0, 'p'},
		{0, 0, 0, 0},
	};
	const char *bench = NULL, *netem = "auto", *command = NULL;
	const char **params = calloc((size_t)argc, sizeof *params);
	int nparams = 0, c, rc = 2;
	struct err e = {0};
	enum netem_driver d;
	optind = 1;
	while (params && (c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': bench = optarg; break;
		case 'n': netem = optarg; break;
		case 'c': command = optarg; break;
		case 'p':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				err_set(&e, "bad --param '%s': expected KEY=VALUE", optarg);
				goto out;
			}
			params[nparams++] = optarg;
			break;
		default: err_set(&e, "bad usage (see memsync --help)"); goto out;
		}
	}
	if (!params || optind < argc || !bench || !*bench) {
		err_set(&e, !params ? "out of memory" : "usage: memsync header --bench NAME [--param KEY=VALUE]...");
		goto out;
	}
	if (netem_driver_parse(netem, &d, &e))
		goto out;
	char dflt[128];
	snprintf(dflt, sizeof dflt, "bench %s", bench);
	struct record r;
	/* auto resolves as `memsync run` resolves it */
	sysinfo_header(&r, bench, d == NETEM_AUTO ? (netem_tc_available() ? "tc" : "user") : netem,
		       command ? command : dflt);
	rec_obj(&r, "params");
	for (int i = 0; i < nparams; i++) {
		char key[128];
		const char *eq = strchr(params[i], '=');
		snprintf(key, sizeof key, "%.*s", (int)(eq - params[i]), params[i]);
		rec_text(&r, key, eq + 1);
	}
	rec_end_obj(&r);
	rc = 0;
	if (rec_write(&r, stdout)) {
		err_errno(&e, errno, "cannot write the header record");
		rc = 1;
	}
out:
	if (rc)
		fprintf(stderr, "memsync: %s\n", e.msg);
	free(params);
	return rc;
}

/* Entry point. */
int main(int argc, char **argv)
{
	struct err e = {0};
	if (check_registry(&e)) {
		fprintf(stderr, "memsync: internal error: %s\n", e.msg);
		return 1;
	}
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		if (argc >= 3 && !strcmp(argv[1], "help"))
			return help_approach(argv[2]);
		usage(stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("memsync %s (%s)\n", MEMSYNC_VERSION, MEMSYNC_GIT_COMMIT);
		return 0;
	}
	if (!strcmp(argv[1], "list") || !strcmp(argv[1], "--list")) {
		const char *what = argc > 2 ? argv[2] : "all";
		int all = !strcmp(what, "all"), rc = 0;
		if (all || !strcmp(what, "approaches"))
			list_approaches();
		if (all || !strcmp(what, "workloads"))
			rc |= list_workloads();
		if (all || !strcmp(what, "profiles"))
			rc |= list_profiles();
		if (!all && strcmp(what, "approaches") && strcmp(what, "workloads") && strcmp(what, "profiles")) {
			fprintf(stderr, "memsync: unknown list '%s' (approaches, workloads, profiles)\n", what);
			return 2;
		}
		return rc ? 1 : 0;
	}
	if (!strcmp(argv[1], "header"))
		return cmd_header(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run")) {
		struct run_plan *p = calloc(1, sizeof *p);
		if (!p)
			return 1;
		int rc = parse_run(argc - 1, argv + 1, p, &e);
		if (rc) {
			fprintf(stderr, "memsync: %s\n", e.msg);
			free(p);
			return rc;
		}
		if (geteuid() != 0) {
			int needs_root = 0;
			for (int i = 0; i < p->napproaches; i++)
				needs_root |= (p->approaches[i]->caps & CAP_REMOTE) != 0;
			if (needs_root) {
				fprintf(stderr, "memsync: these approaches need root (network namespaces, mounts); run as root\n");
				free(p);
				return 2;
			}
		}
		struct run_totals t;
		log_info("writing results to %s", p->out_path);
		rc = runner_run(p, &t, &e);
		log_info("%d passed, %d failed, %d skipped -> %s", t.passed, t.failed, t.skipped, p->out_path);
		if (rc)
			fprintf(stderr, "memsync: %s\n", e.msg);
		free(p);
		return rc ? (e.set && strstr(e.msg, "interrupted") ? 130 : 1) : t.failed ? 1 : 0;
	}
	fprintf(stderr, "memsync: unknown command '%s' (see memsync --help)\n", argv[1]);
	return 2;
}
