/*
 * runner_int.h - what the files of the runner share: the roles of a
 * scenario's processes, the command bytes of the runner<->child protocol,
 * the shared-memory block, and the functions each file offers the others.
 *
 *   runner.c         the main loop: scenarios, warm-ups, the phases of an access
 *                    scenario and of a migration
 *   preflight.c      checks before the first scenario: options, --workdir, --out,
 *                    an idle machine
 *   supervise.c      the runner's side of the protocol: spawn, await, command,
 *                    stop; interruption (SIGINT/SIGTERM)
 *   runner_child.c   the children's side: the local, workload and remote processes
 *   region_map.c     how the workload process maps the region
 *   verify.c         byte-for-byte verification of the local view and the remote copy
 *   runner_record.c  the scenario record, link counters, the run header
 *   stale.c          removal of what dead runs left behind
 *
 * harness/README.md describes the process model and the protocol.
 */
#ifndef MEMSYNC_RUNNER_INT_H
#define MEMSYNC_RUNNER_INT_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "netem/topology.h"
#include "preflight.h"
#include "runner.h"

/* The processes of a scenario. */
enum role { ROLE_REMOTE, ROLE_LOCAL, ROLE_WORKLOAD, ROLE_DEST, ROLE_DEST_WORKLOAD, NROLES };
extern const char *const role_names[NROLES];

/* The hosts (network namespaces) of a scenario's topology. */
enum { HOST_LOCAL = 0, HOST_REMOTE = 1, HOST_THIRD = 2 };

/* Commands from the runner to a child, one byte each; every command (and
 * the child's start) is answered with CMD_OK or CMD_FAIL (the message is in
 * shared->err[role]). CMD_QUIT is not answered: the child tears down and exits. */
enum {
	CMD_RUN = 'R',     /* workload: run it (migration: write until stop_writer) */
	CMD_VERIFY = 'V',  /* workload/remote: verify the content */
	CMD_SYNC = 'Y',    /* local: push changes (sync()) */
	CMD_MIGRATE = 'M', /* local: migrate_source() */
	CMD_CPU = 'C',     /* local/remote: record a CPU-time mark */
	CMD_RESUME = 'U',  /* dest-workload: first access, then verify */
	CMD_QUIT = 'Q',
	CMD_OK = '0',
	CMD_FAIL = '1',
};

#define CHILD_ERR_LEN 512

/* What the children report; lives in MAP_SHARED memory. */
struct shared {
	volatile int stop_writer;           /* migration: ask the writer to stop */
	volatile int writer_stopped;        /* the writer acknowledged */
	uint64_t t_suspend_ns;              /* writer stopped writing (downtime starts) */
	uint64_t workload_flush_ns;         /* the workload's msync after its accesses (file regions) */
	uint64_t t_resumed_ns;              /* first access done on the destination */
	uint64_t resume_first_access_ns;
	int port;                           /* port the remote listens on */
	char err[NROLES][CHILD_ERR_LEN];
	uint64_t cpu_us[NROLES][2];         /* user+sys at the two marks */
	int ncpu_marks[NROLES];
	struct workload_result wres, dres;
	uint64_t bad_off[NROLES];           /* first bad byte found by a verifier */
	struct { uint64_t faults, pulled, pushed, dirty; } counters[NROLES];
	uint64_t mig_rounds, mig_bytes_moved, mig_bytes_resent;
	volatile int async_fail;            /* role + 1 of a child whose approach reported a fatal error */
};

/* The description of the region sent from the local process to the workload. */
struct region_desc {
	int kind, wp, in_workload;
	uint64_t size;
	char path[PATH_MAX];
};

/* The workload's answer to a region_desc (with the userfaultfd, if any). */
struct region_reply {
	uint64_t addr;
	int pid;
	int ok;
};

/* A child process and its command socket. */
struct child {
	pid_t pid;
	int sock;
	enum role role;
};

/* Everything about the scenario being run. */
struct scenario_run {
	const struct run_plan *plan;
	struct scenario sc;
	struct shared *sh;
	uint32_t *versions;
	size_t versions_len;
	struct topology *topo;
	struct child ch[NROLES];
	int pair_local_wl[2], pair_dest_wl[2];  /* local<->workload, dest<->dest-workload */
};

/* How a scenario ended. */
enum scenario_status { STATUS_PASS, STATUS_FAIL, STATUS_SKIP, STATUS_INTERRUPTED, NSTATUS };
extern const char *const scenario_status_names[NSTATUS];

/* What a scenario measured, for its record. */
struct scenario_result {
	enum scenario_status status;
	struct err why;             /* the reason of a fail, skip or interruption */
	int warmup;                 /* a warm-up run, left out of summaries */
	double sync_s;
	int remote_verified;        /* 1 yes, 0 no, -1 not applicable */
	struct link_counters wire;
	double open_s;                  /* sides started until the region was mapped (untimed) */
	struct link_counters wire_open; /* the link's counters over that time */
	double load_before, load_after; /* 1-minute load average */
};

/* runner.c */
/* Does the approach have a remote side (a remote process, the network)? */
int approach_has_remote(const struct approach_ops *ops);

/* preflight.c: preflight.h */

/* supervise.c */
/* Set by SIGINT/SIGTERM in the runner: end the run, record the scenario as interrupted. */
extern volatile sig_atomic_t runner_interrupted;
/* Catch SIGINT/SIGTERM (and ignore SIGPIPE) for the run; restore them after. */
void runner_signals_install(void);
void runner_signals_restore(void);
/* Fork a child for a role in the namespace of host, in its own process group. */
int child_spawn(struct scenario_run *s, enum role role, int host, struct err *e);
/* Wait for a child's reply to its start or its last command (timeout, death, Ctrl-C). */
int child_await(struct scenario_run *s, enum role role, const char *what, struct err *e);
/* Send a command byte without waiting for the reply. */
int child_send(struct scenario_run *s, enum role role, char cmd, const char *what, struct err *e);
/* Send a command and wait for its reply. */
int child_command(struct scenario_run *s, enum role role, char cmd, const char *what, struct err *e);
/* Stop every child (QUIT, then SIGTERM, then SIGKILL to its process group);
 * returns how many did not exit by themselves. */
int children_stop(struct scenario_run *s);

/* runner_child.c */
/* Child side: store the error message for the runner and reply OK/FAIL. */
void child_reply(struct scenario_run *s, enum role r, int ok, const struct err *e);
/* The bodies of the children; the exit status of the process. */
int child_local_main(struct scenario_run *s, enum role role);
int child_workload_main(struct scenario_run *s, enum role role);
int child_remote_main(struct scenario_run *s, enum role role);

/* region_map.c */
/* Map the region as described: a file, anonymous memory with version-0
 * content, or anonymous memory registered with a new userfaultfd (*uffd_out;
 * -1 when none). NULL with e set on failure. */
unsigned char *region_map(const struct region_desc *d, const struct content_model *m, int *uffd_out,
			  struct err *e);

/* verify.c */
/* Compare a whole mapping with the model; *bad = first bad byte. */
int verify_mapping(const unsigned char *map, const struct content_model *m, uint64_t *bad, struct err *e);
/* Read the remote copy through remote_read() and compare it with the model. */
int verify_remote(struct host *h, const struct content_model *m, uint64_t *bad, struct err *e);
/* Test hook: MEMSYNC_INJECT_CORRUPTION=OFFSET flips that byte of the mapping. */
void verify_inject_corruption(unsigned char *map, uint64_t size);

/* stale.c */
/* Remove a scratch directory and everything below it on the same file system. */
int workdir_remove(const char *dir, struct err *e);

/* runner_record.c */
/* Write the scenario's record and flush it; -1 with e set when it could not be written. */
int record_scenario(FILE *f, const struct scenario_run *s, int index, const struct scenario_result *res,
		    struct err *e);
/* Counters of the link now (zeros without a topology). */
void wire_now(const struct scenario_run *s, struct link_counters *c);
/* Difference b - a of two counter snapshots. */
struct link_counters wire_delta(const struct link_counters *a, const struct link_counters *b);
/* The netem driver a run uses, by name ("tc", "user", "none"). */
const char *runner_driver_name(const struct run_plan *p);

#endif
