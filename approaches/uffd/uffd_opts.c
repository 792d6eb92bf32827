/*
 * uffd_opts.c - the uffd approach's -o options: the table `memsync help
 * uffd` prints and their parsing into the core's tuning (struct uffd_cfg)
 * and the handler's place. A bad value is an error naming the option.
 */
#include "uffd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CHUNK_MAX (1u << 20)      /* largest fault-around chunk */
#define PULLERS_MAX 64            /* background connections */
#define INFLIGHT_MAX 4096         /* background requests in flight */
#define BATCH_MAX (32u << 20)     /* bytes per background request */
#define RETRIES_MAX 20            /* attempts of a demand fetch */
#define NS_PER_S 1000000000ull

const struct approach_opt uffd_options[] = {
	{"chunk", "64k", "fault-around: bytes fetched and installed per fault (4k .. 1m, multiple of 4k)"},
	{"threads", "1", "fault handler threads reading the userfaultfd (1 .. 64)"},
	{"prefetch", "both", "off | readahead (follow sequential faults) | background (pull everything) | both"},
	{"pullers", "2", "connections used by the background puller and the push (1 .. 64)"},
	{"inflight", "16", "background requests in flight, pull and push (1 .. 4096)"},
	{"batch", "1m", "bytes per background request (runs of absent chunks coalesced; >= chunk, at most 32m)"},
	{"readahead", "8m", "largest readahead window in bytes"},
	{"order", "linear", "background order: linear | follow (from the latest fault on) | header-first | list:FILE"},
	{"wp", "on", "write tracking with write-protect mode (off: reads only, writes never reach the remote)"},
	{"push_interval", "0", "also push dirty chunks every this long (duration: 50ms, 1s; a bare number is ms; "
			       "0 = only at sync)"},
	{"timeout", "10s", "a remote request unanswered this long fails the scenario (duration; a bare number is ms)"},
	{"retries", "3", "attempts for a failed demand fetch (with backoff) before the scenario fails (1 .. 20)"},
	{"page_first", "on", "a fault requests its own page first, installs it, then the rest of its chunk"},
	{"overtake", "on", "a fault on a chunk the background is fetching fetches its page on the demand connection"},
	{"bg_start", "fault", "start the background pull at the first fault (fault) or at attach (attach)"},
	{"handler", "process", "where the handler threads run: process (the local process; the workload hands over the "
			       "userfaultfd with SCM_RIGHTS) | inprocess (threads in the workload process; not with --migrate)"},
	{NULL, NULL, NULL},
};

/* An integer option within [lo, hi]. */
static int opt_range(const struct scenario *sc, const char *key, uint64_t def, uint64_t lo, uint64_t hi,
		     unsigned *out, struct err *e)
{
	uint64_t v;
	if (scenario_opt_uint(sc, key, def, &v, e))
		return -1;
	if (v < lo || v > hi)
		return err_set(e, "option %s=%" PRIu64 ": must be %" PRIu64 " .. %" PRIu64, key, v, lo, hi);
	*out = (unsigned)v;
	return 0;
}

/* chunk, batch, readahead. */
static int parse_sizes(const struct scenario *sc, struct uffd_cfg *c, struct err *e)
{
	if (scenario_opt_size(sc, "chunk", 64 << 10, &c->chunk, e))
		return -1;
	if (c->chunk < UFFD_PAGE || c->chunk > CHUNK_MAX || c->chunk % UFFD_PAGE)
		return err_set(e, "option chunk=%s: must be a multiple of 4k between 4k and 1m",
			       scenario_opt(sc, "chunk", "?"));
	if (scenario_opt_size(sc, "batch", 1 << 20, &c->batch, e))
		return -1;
	if (c->batch > BATCH_MAX)
		return err_set(e, "option batch=%s: at most 32m", scenario_opt(sc, "batch", "?"));
	if (c->batch < c->chunk)
		c->batch = c->chunk;
	return scenario_opt_size(sc, "readahead", 8 << 20, &c->readahead, e);
}

/* threads, pullers, inflight, retries. */
static int parse_counts(const struct scenario *sc, struct uffd_cfg *c, struct err *e)
{
	if (opt_range(sc, "threads", 1, 1, UFFD_MAX_THREADS, &c->threads, e) ||
	    opt_range(sc, "pullers", 2, 1, PULLERS_MAX, &c->pullers, e) ||
	    opt_range(sc, "inflight", 16, 1, INFLIGHT_MAX, &c->inflight, e) ||
	    opt_range(sc, "retries", 3, 1, RETRIES_MAX, &c->retries, e))
		return -1;
	return 0;
}

/* order: one of the names, or list:FILE. */
static int parse_order(const struct scenario *sc, struct uffd_cfg *c, struct err *e)
{
	static const char *const names[] = {"linear", "follow", "header-first", NULL};
	const char *o = scenario_opt(sc, "order", "linear");
	if (!strncmp(o, "list:", 5) && o[5]) {
		c->order = ORD_LIST;
		snprintf(c->list_path, sizeof c->list_path, "%s", o + 5);
		return 0;
	}
	struct err sub = {0};
	if (scenario_opt_enum(sc, "order", names, ORD_LINEAR, &c->order, &sub))
		return err_set(e, "%s or list:FILE", sub.msg);
	return 0;
}

/* prefetch, order, bg_start, handler; the on/off switches. */
static int parse_modes(const struct scenario *sc, struct uffd_cfg *c, enum uffd_handler *handler, struct err *e)
{
	/* Indexes are the PF_ bits: both = PF_READAHEAD | PF_BACKGROUND. */
	static const char *const prefetch[] = {"off", "readahead", "background", "both", NULL};
	static const char *const bg_start[] = {"attach", "fault", NULL};
	static const char *const handlers[] = {"process", "inprocess", NULL};
	int h;
	if (scenario_opt_enum(sc, "prefetch", prefetch, PF_READAHEAD | PF_BACKGROUND, &c->prefetch, e) ||
	    parse_order(sc, c, e) || scenario_opt_enum(sc, "bg_start", bg_start, 1, &c->bg_after_fault, e) ||
	    scenario_opt_enum(sc, "handler", handlers, UFFD_HANDLER_PROCESS, &h, e))
		return -1;
	*handler = (enum uffd_handler)h;
	if (scenario_opt_bool(sc, "wp", 1, &c->wp, e) || scenario_opt_bool(sc, "page_first", 1, &c->page_first, e) ||
	    scenario_opt_bool(sc, "overtake", 1, &c->overtake, e))
		return -1;
	return 0;
}

/* push_interval, timeout. */
static int parse_durations(const struct scenario *sc, struct uffd_cfg *c, struct err *e)
{
	if (scenario_opt_duration(sc, "push_interval", 0, &c->push_interval_ns, e) ||
	    scenario_opt_duration(sc, "timeout", 10 * NS_PER_S, &c->timeout_ns, e))
		return -1;
	if (c->timeout_ns == 0)
		return err_set(e, "option timeout=%s: must be positive", scenario_opt(sc, "timeout", "?"));
	return 0;
}

/* Parse the -o options: the core's tuning into c, the handler's place into *handler. */
int uffd_parse_opts(const struct scenario *sc, struct uffd_cfg *c, enum uffd_handler *handler, struct err *e)
{
	memset(c, 0, sizeof *c);
	if (parse_sizes(sc, c, e) || parse_counts(sc, c, e) || parse_modes(sc, c, handler, e) ||
	    parse_durations(sc, c, e))
		return -1;
	return 0;
}
