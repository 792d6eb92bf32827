/*
 * runner_record.c - what a run writes: the header record (tool, build,
 * machine, every parameter) and one record per scenario run (what ran, how
 * it ended, throughput, latency, CPU, wire, the approach's counters, the
 * migration's downtime). README.md explains the fields. A record that cannot
 * be written fails the run.
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "record.h"
#include "runner_int.h"
#include "sysinfo.h"

#define BYTES_PER_GIB 1073741824.0

const char *const scenario_status_names[NSTATUS] = {"pass", "fail", "skip", "interrupted"};

/* The netem driver a run uses, by name. */
const char *runner_driver_name(const struct run_plan *p)
{
	switch (p->netem_driver) {
	case NETEM_AUTO: return netem_tc_available() ? "tc" : "user";
	case NETEM_TC: return "tc";
	case NETEM_USER: return "user";
	default: return "none";
	}
}

/* Counters of the link now (zeros without a topology). */
void wire_now(const struct scenario_run *s, struct link_counters *c)
{
	memset(c, 0, sizeof *c);
	struct err e = {0};
	if (s->topo && topo_counters(s->topo, c, &e))
		log_warn("link counters unavailable: %s", e.msg);
}

/* Difference of two counter snapshots (with the emulator's CPU time). */
struct link_counters wire_delta(const struct link_counters *a, const struct link_counters *b)
{
	struct link_counters d;
	link_counters_delta(a, b, &d);
	return d;
}

/* What the link could carry: the driver's measured ceiling for this profile
 * (link_capped when the profile asks for more), and the emulator's CPU. */
static void record_link(struct record *r, const struct scenario_run *s, const struct scenario_result *res)
{
	double cpu = link_cpu_s_per_gb(&res->wire);
	if (cpu >= 0)
		rec_f64(r, "emulator_cpu_s_per_gb", cpu);
	struct topo_ceiling lc = {0};
	struct err e = {0};
	if (!s->topo)
		return;
	if (topo_link_ceiling(s->topo, &lc, &e)) {
		log_warn("link ceiling unknown: %s", e.msg);
		return;
	}
	if (lc.known) {
		rec_bool(r, "link_capped", lc.capped);
		rec_f64(r, "link_ceiling_mbit", lc.mbit);
	}
}

/* Sum of CPU seconds of a role between its two marks. */
static double role_cpu_s(const struct shared *sh, enum role r)
{
	if (sh->cpu_us[r][1] < sh->cpu_us[r][0])
		return 0;
	return (double)(sh->cpu_us[r][1] - sh->cpu_us[r][0]) / 1e6;
}

/* A load average, null when it could not be read. */
static void record_load(struct record *r, const char *key, double load)
{
	if (load < 0)
		rec_null(r, key);
	else
		rec_f64(r, key, load);
}

/* What ran and how it ended; every scenario record has these. */
static void record_identity(struct record *r, const struct scenario_run *s, int index,
			    const struct scenario_result *res)
{
	const struct scenario *sc = &s->sc;
	rec_str(r, "type", "scenario");
	rec_u64(r, "index", (uint64_t)index);
	rec_bool(r, "warmup", res->warmup);
	rec_str(r, "approach", sc->ops->name);
	rec_str(r, "workload", sc->wl.name);
	rec_str(r, "pattern", workload_pattern_name(sc->wl.pattern));
	rec_str(r, "profile", sc->profile);
	rec_str(r, "netem", s->topo ? topo_driver_name(s->topo) : "none");
	rec_str(r, "mode", scenario_mode_name(sc->mode));
	rec_u64(r, "size", sc->size);
	rec_u64(r, "access_size", sc->wl.access_size);
	rec_f64(r, "write_fraction", sc->wl.write_fraction);
	rec_u64(r, "seed", sc->seed);
	rec_obj(r, "options");
	for (int i = 0; i < sc->nopts; i++)
		rec_str(r, sc->opts[i].key, sc->opts[i].val);
	rec_end_obj(r);
	rec_str(r, "status", scenario_status_names[res->status]);
	if (res->why.set)
		rec_str(r, "reason", res->why.msg);
	else
		rec_null(r, "reason");
	rec_bool(r, "verified", res->status == STATUS_PASS);
	rec_str(r, "verified_remote", res->remote_verified > 0 ? "yes" : res->remote_verified == 0 ? "no" : "n/a");
	record_load(r, "loadavg_before", res->load_before);
	record_load(r, "loadavg_after", res->load_after);
}

/* Throughput, latency, CPU, wire and the approach's counters. */
static void record_metrics(struct record *r, const struct scenario_run *s, const struct scenario_result *res)
{
	const struct shared *sh = s->sh;
	const struct workload_result *w = &sh->wres;
	double secs = (double)w->elapsed_ns / 1e9;
	uint64_t bytes = w->bytes_read + w->bytes_written;
	rec_f64(r, "elapsed_s", secs);
	rec_u64(r, "bytes_read", w->bytes_read);
	rec_u64(r, "bytes_written", w->bytes_written);
	rec_u64(r, "accesses", w->accesses);
	rec_f64(r, "throughput_mb_s", secs > 0 ? (double)bytes / secs / 1e6 : 0);
	rec_f64(r, "sync_s", res->sync_s);
	rec_f64(r, "flush_s", (double)sh->workload_flush_ns / 1e9);
	rec_f64(r, "throughput_with_sync_mb_s",
		secs + res->sync_s > 0 ? (double)bytes / (secs + res->sync_s) / 1e6 : 0);
	rec_u64(r, "first_access_ns", w->first_access_ns);
	rec_hist(r, "read_latency", &w->read_lat);
	rec_hist(r, "write_latency", &w->write_lat);
	double cw = role_cpu_s(sh, ROLE_WORKLOAD), cl = role_cpu_s(sh, ROLE_LOCAL), cr = role_cpu_s(sh, ROLE_REMOTE);
	rec_obj(r, "cpu_s");
	rec_f64(r, "workload", cw);
	rec_f64(r, "local", cl);
	rec_f64(r, "remote", cr);
	rec_f64(r, "total", cw + cl + cr);
	rec_f64(r, "per_gib", bytes ? (cw + cl + cr) / ((double)bytes / BYTES_PER_GIB) : 0);
	rec_end_obj(r);
	rec_obj(r, "wire");
	rec_u64(r, "bytes_out", res->wire.bytes[0]);
	rec_u64(r, "bytes_in", res->wire.bytes[1]);
	rec_u64(r, "packets_out", res->wire.packets[0]);
	rec_u64(r, "packets_in", res->wire.packets[1]);
	rec_u64(r, "drops", res->wire.drops[0] + res->wire.drops[1]);
	rec_u64(r, "bytes_in_before_run", res->wire_open.bytes[1]);
	rec_u64(r, "bytes_out_before_run", res->wire_open.bytes[0]);
	rec_end_obj(r);
	rec_f64(r, "open_s", res->open_s);
	record_link(r, s, res);
	rec_obj(r, "approach_stats");
	rec_u64(r, "faults", sh->counters[ROLE_LOCAL].faults);
	rec_u64(r, "bytes_pulled", sh->counters[ROLE_LOCAL].pulled);
	rec_u64(r, "bytes_pushed", sh->counters[ROLE_LOCAL].pushed);
	rec_u64(r, "chunks_dirty", sh->counters[ROLE_LOCAL].dirty);
	rec_end_obj(r);
}

/* The migration object of a MODE_MIGRATE record. */
static void record_migration(struct record *r, const struct shared *sh)
{
	rec_obj(r, "migration");
	double down = sh->t_resumed_ns > sh->t_suspend_ns && sh->t_suspend_ns
			      ? (double)(sh->t_resumed_ns - sh->t_suspend_ns) / 1e9
			      : -1;
	rec_f64(r, "downtime_s", down);
	rec_u64(r, "source_flush_ns", sh->workload_flush_ns);
	rec_u64(r, "resume_first_access_ns", sh->resume_first_access_ns);
	rec_u64(r, "rounds", sh->mig_rounds);
	rec_u64(r, "bytes_moved", sh->mig_bytes_moved);
	rec_u64(r, "bytes_resent", sh->mig_bytes_resent);
	rec_u64(r, "dest_faults", sh->counters[ROLE_DEST].faults);
	rec_u64(r, "dest_bytes_pulled", sh->counters[ROLE_DEST].pulled);
	rec_end_obj(r);
}

/* Write a finished record and flush it; a record that is lost fails the run. */
static int record_flush(struct record *r, FILE *f, const char *path, struct err *e)
{
	errno = 0;
	if (rec_write(r, f) || fflush(f) || ferror(f)) {
		return err_errno(e, errno ? errno : EIO, "cannot write the results to %s", path);
	}
	return 0;
}

/* Write the scenario's record. */
int record_scenario(FILE *f, const struct scenario_run *s, int index, const struct scenario_result *res,
		    struct err *e)
{
	struct record r;
	rec_begin(&r);
	record_identity(&r, s, index, res);
	if (res->status != STATUS_SKIP && s->sh) { /* no shared block: it failed before measuring */
		record_metrics(&r, s, res);
		if (s->sc.mode == MODE_MIGRATE)
			record_migration(&r, s->sh);
	}
	return record_flush(&r, f, s->plan->out_path, e);
}

/* Append the i-th name to a comma-separated list. */
static void join_names(char *list, size_t len, const char *name, int i)
{
	size_t l = strlen(list);
	snprintf(list + l, len - l, "%s%s", i ? "," : "", name);
}

/* The run header: tool, build, machine and every parameter. */
int runner_write_header(FILE *f, const struct run_plan *p, const char *netem_driver)
{
	struct record r;
	sysinfo_header(&r, NULL, netem_driver, p->cmdline);
	rec_obj(&r, "params");
	char list[1024] = "";
	for (int i = 0; i < p->napproaches; i++)
		join_names(list, sizeof list, p->approaches[i]->name, i);
	rec_str(&r, "approaches", list);
	list[0] = '\0';
	for (int i = 0; i < p->nworkloads; i++)
		join_names(list, sizeof list, p->workloads[i].name, i);
	rec_str(&r, "workloads", list);
	list[0] = '\0';
	for (int i = 0; i < p->nprofiles; i++)
		join_names(list, sizeof list, p->profiles[i], i);
	rec_str(&r, "profiles", list);
	rec_u64(&r, "size", p->size);
	rec_u64(&r, "seed", p->seed);
	rec_u64(&r, "repeat", (uint64_t)p->repeat);
	rec_u64(&r, "warmup", (uint64_t)p->warmup);
	rec_u64(&r, "require_idle_s", (uint64_t)p->require_idle_s);
	rec_bool(&r, "migrate", p->mode == MODE_MIGRATE);
	rec_f64(&r, "migrate_after_s", (double)p->migrate_after_ns / 1e9);
	rec_f64(&r, "timeout_s", (double)p->timeout_ns / 1e9);
	rec_obj(&r, "options");
	for (int i = 0; i < p->nopts; i++)
		rec_str(&r, p->opts[i][0], p->opts[i][1]);
	rec_end_obj(&r);
	rec_end_obj(&r);
	if (rec_write(&r, f) || fflush(f) || ferror(f))
		return -1;
	return 0;
}
