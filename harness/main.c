/*
 * main.c - the `memsync` command: run scenarios, list what exists, explain
 * approaches, clean up after killed runs. run.sh is the friendly front end
 * (build, install, plot); this binary is what it calls. The subcommands are
 * one table (commands[] at the end); `memsync run`'s options are in run_args.c.
 *
 * Exit codes (enum exit_code): 0 every scenario passed (or was skipped), 1 a
 * scenario failed or the harness failed, 2 bad usage or bad input (nothing
 * was started), 130 interrupted.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "approach.h"
#include "build_info.h"
#include "log.h"
#include "netem/profile.h"
#include "netem/topology.h"
#include "runner.h"
#include "sysinfo.h"

/* Exit codes of the `memsync` command. */
enum exit_code {
	EXIT_OK = 0,           /* every scenario passed (or was skipped) */
	EXIT_FAILED = 1,       /* a scenario failed, or the harness did */
	EXIT_USAGE = 2,        /* bad usage or bad input: nothing was started */
	EXIT_INTERRUPTED = 130 /* SIGINT/SIGTERM */
};

/* A subcommand: argv[0] is its name; returns the exit code. */
struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis; /* for the usage text; NULL for an alias */
};
/* Print the subcommands' synopses (after the table, at the end). */
static void print_commands(FILE *f);

/* Print the main usage text. */
static void usage(FILE *f)
{
	fprintf(f, "memsync %s - synchronize Linux memory regions over an emulated network, and measure it\n\nusage:\n",
		MEMSYNC_VERSION);
	print_commands(f);
	fprintf(f, "\n");
	run_args_usage(f);
	fprintf(f, "\n"
		   "Every scenario verifies, byte for byte, that the workload's view and the remote copy equal\n"
		   "the content model; a mismatch fails the scenario and names the first bad byte.\n"
		   "Results: one header record, then one record per scenario run (status pass|fail|skip|\n"
		   "interrupted; warm-up runs carry \"warmup\": true).\n"
		   "Exit codes: 0 every scenario passed or was skipped, 1 a scenario or the harness failed,\n"
		   "2 bad usage or input (nothing started), 130 interrupted.\n");
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
		printf("  %-8s %s%s%s%s\n", o->name, o->summary, o->caps & CAP_WRITE ? " [write]" : "",
		       o->caps & CAP_MIGRATE ? " [migrate]" : "", o->caps & CAP_REMOTE ? " [network]" : "");
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

/* `memsync list [what]`. */
static int cmd_list(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "all";
	int all = !strcmp(what, "all"), rc = 0;
	if (!all && strcmp(what, "approaches") && strcmp(what, "workloads") && strcmp(what, "profiles")) {
		fprintf(stderr, "memsync: unknown list '%s' (approaches, workloads, profiles)\n", what);
		return EXIT_USAGE;
	}
	if (all || !strcmp(what, "approaches"))
		list_approaches();
	if (all || !strcmp(what, "workloads"))
		rc |= list_workloads();
	if (all || !strcmp(what, "profiles"))
		rc |= list_profiles();
	return rc ? EXIT_FAILED : EXIT_OK;
}

/* `memsync help [approach]`, also -h and --help. */
static int cmd_help(int argc, char **argv)
{
	if (argc > 1)
		return help_approach(argv[1]);
	usage(stdout);
	return EXIT_OK;
}

/* `memsync --version`. */
static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("memsync %s (%s)\n", MEMSYNC_VERSION, MEMSYNC_GIT_COMMIT);
	return EXIT_OK;
}

/* The exit code of a run. */
static int run_exit_code(enum run_outcome oc, const struct run_totals *t)
{
	switch (oc) {
	case RUN_COMPLETED: return t->failed ? EXIT_FAILED : EXIT_OK;
	case RUN_BAD_INPUT: return EXIT_USAGE;
	case RUN_INTERRUPTED: return EXIT_INTERRUPTED;
	case RUN_ERROR: break;
	}
	return EXIT_FAILED;
}

/* Approaches with a remote side need root (namespaces, mounts). */
static int plan_needs_root(const struct run_plan *p)
{
	for (int i = 0; i < p->napproaches; i++)
		if (p->approaches[i]->caps & CAP_REMOTE)
			return 1;
	return 0;
}

/* `memsync run [options]`. */
static int cmd_run(int argc, char **argv)
{
	struct err e = {0};
	struct run_plan *p = calloc(1, sizeof *p);
	if (!p)
		return EXIT_FAILED;
	int rc = run_args_parse(argc, argv, p, &e);
	if (rc) {
		if (rc < 0)
			fprintf(stderr, "memsync: %s\n", e.msg);
		free(p);
		return rc < 0 ? EXIT_USAGE : EXIT_OK;
	}
	if (geteuid() != 0 && plan_needs_root(p)) {
		fprintf(stderr, "memsync: these approaches need root (network namespaces, mounts); run as root\n");
		free(p);
		return EXIT_USAGE;
	}
	struct run_totals t;
	enum run_outcome oc = runner_run(p, &t, &e);
	if (oc != RUN_BAD_INPUT)
		log_info("%d passed, %d failed, %d skipped (+%d warm-up runs) -> %s", t.passed, t.failed, t.skipped,
			 t.warmups, p->out_path);
	if (oc != RUN_COMPLETED)
		fprintf(stderr, "memsync: %s\n", e.set ? e.msg : "the run did not complete");
	free(p);
	return run_exit_code(oc, &t);
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

/* `memsync cleanup [--workdir DIR]`: remove what dead runs left behind. */
static int cmd_cleanup(int argc, char **argv)
{
	static const struct option longopts[] = {{"workdir", required_argument, 0, 'd'}, {0, 0, 0, 0}};
	const char *workroot = RUNNER_DEFAULT_WORKROOT;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
		if (c != 'd' || optarg[0] == '-') {
			fprintf(stderr, "memsync: usage: memsync cleanup [--workdir DIR]\n");
			return EXIT_USAGE;
		}
		workroot = optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "memsync: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	int removed;
	struct err e = {0};
	int rc = runner_cleanup_stale(workroot, &removed, &e);
	log_info("removed %d stale item%s of dead runs (namespaces, shared memory, work directories under %s)",
		 removed, removed == 1 ? "" : "s", workroot);
	if (rc)
		fprintf(stderr, "memsync: %s\n", e.msg);
	return rc ? EXIT_FAILED : EXIT_OK;
}

/* The subcommands; adding one is one line here. */
static const struct command commands[] = {
	{"run", cmd_run, "run [options]           run scenarios: approaches x workloads x profiles x (warm-up + repeat)"},
	{"list", cmd_list, "list [what]             list approaches, workloads and profiles (approaches|workloads|profiles)"},
	{"help", cmd_help, "help [approach]         this text, or an approach's description and -o options"},
	{"header", cmd_header, "header --bench NAME [--netem DRIVER] [--command TEXT] [--param KEY=VALUE]...\n"
			       "                                  the header record that starts a bench's results file, on stdout"},
	{"cleanup", cmd_cleanup, "cleanup [--workdir DIR] remove what killed runs left behind (namespaces, shared memory,\n"
				 "                                  work directories, the approaches' mounts and devices)"},
	{"--list", cmd_list, NULL},
	{"--help", cmd_help, NULL},
	{"-h", cmd_help, NULL},
	{"--version", cmd_version, NULL},
	{NULL, NULL, NULL},
};

/* Print the subcommands' synopses. */
static void print_commands(FILE *f)
{
	for (const struct command *c = commands; c->name; c++)
		if (c->synopsis)
			fprintf(f, "  memsync %s\n", c->synopsis);
}

/* Entry point: check the registry, dispatch to the subcommand. */
int main(int argc, char **argv)
{
	struct err e = {0};
	if (check_registry(&e)) {
		fprintf(stderr, "memsync: internal error: %s\n", e.msg);
		return EXIT_FAILED;
	}
	if (argc < 2) {
		usage(stdout);
		return EXIT_USAGE;
	}
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "memsync: unknown command '%s' (see memsync --help)\n", argv[1]);
	return EXIT_USAGE;
}
