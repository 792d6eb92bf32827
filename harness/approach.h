/*
 * approach.h - what an approach is to the harness.
 *
 * Each approach (uffd, delta, fuse, nbd, and the baselines memory and disk)
 * fills one `struct approach_ops` and is listed in harness/registry.c. The
 * runner drives every approach the same way, in separate processes:
 *
 *   remote process (host "remote" namespace):  serve() ... remote_read() ... serve_stop()
 *   local process  (host "local" namespace):   open() [attach()] ... sync() ... close()
 *   workload process (local namespace):        maps the region open() described
 *                                              and runs the workload
 *
 * open() only decides how the region is mapped: a path to mmap (file, FUSE
 * file, /dev/nbdX), or anonymous memory whose userfaultfd the workload hands
 * to the local process over a UNIX socket (SCM_RIGHTS), which then calls
 * attach(). With region->handler_in_workload the workload keeps the
 * userfaultfd and calls workload_attach() itself (the approach's threads run
 * in the workload process); the local process still gets attach() (with
 * uffd -1), sync() and close(), which the approach forwards as it likes.
 * Measurement code is identical for all approaches; harness/README.md says
 * step by step how to add one.
 *
 * Hooks return 0 or record an error in `e` and return -1 (see err.h); they
 * never exit(). A thread of the approach that gives up calls
 * region->report_fatal().
 *
 * Teardown contract (what the runner guarantees, and expects):
 *   - close() is called after every open() and every migrate_dest(), whether
 *     it succeeded or failed, and after a failed attach(), sync() or
 *     migrate_source(). A failing open() leaves r->priv NULL or pointing at
 *     what it set up so far; close() frees exactly that (r->priv may be NULL).
 *   - serve_stop() is called after every serve(), succeeded or failed, on the
 *     same terms (h->priv may be NULL).
 *   - workload_detach() is called only after a workload_attach() that succeeded.
 *   - Every process of a scenario is stopped with a quit command: it runs
 *     the teardown above and exits. One that has not exited 2 s later gets
 *     SIGTERM, 5 s later SIGKILL, sent to its whole process group (each
 *     process of a scenario leads its own), so daemons an approach started
 *     from it die too. After a scenario in which a process had to be
 *     signalled or died from a signal, the runner calls the approach's
 *     cleanup_stale(): what the teardown would have removed (a mount, a
 *     connected /dev/nbdX) must therefore carry the pid of the process that
 *     created it (getpid() in the local, remote or dest process), e.g. in a
 *     name "ms<pid>-...", so that it is stale once that process is gone.
 *   - When the runner itself is killed, its processes die with it
 *     (PR_SET_PDEATHSIG); the next run and `memsync cleanup` call every
 *     approach's cleanup_stale() and remove the namespaces, shared memory and
 *     work directories of runs that are gone.
 *
 * Built without its library: an approach whose library or kernel interface
 * is missing at build time still compiles, registers and keeps its options
 * table; its CMakeLists defines MEMSYNC_HAVE_<LIB> only when the library is
 * found, and its ops say why not:
 *
 *     #ifdef MEMSYNC_HAVE_FUSE3
 *     #define FUSE_UNSUPPORTED NULL
 *     #else
 *     #define FUSE_UNSUPPORTED "built without libfuse3 (install libfuse3-dev, rebuild)"
 *     #endif
 *     const struct approach_ops fuse_ops = { ..., .unsupported = FUSE_UNSUPPORTED, ... };
 *
 * `memsync list` shows the reason, every scenario of it is recorded as a skip
 * with that reason, the runner calls none of its hooks, and the tests that
 * need it skip (exit 77) through requires_approach (tests/functions.sh). A
 * feature missing on this machine at run time (kernel, privileges) is what
 * probe() reports, with the same effect.
 */
#ifndef MEMSYNC_APPROACH_H
#define MEMSYNC_APPROACH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "content.h"
#include "err.h"
#include "workload.h"

/* Capabilities: `memsync list` shows them, and the runner records a
 * scenario that needs one the approach lacks as skipped, with the reason. */
enum approach_cap {
	CAP_READ = 1 << 0,     /* reads see the region's content (workloads that read need it) */
	CAP_WRITE = 1 << 1,    /* writes are kept and reach the remote copy after sync()
	                        * (workloads that write need it) */
	CAP_MIGRATE = 1 << 3,  /* implements migrate_source/migrate_dest (--migrate needs it) */
	CAP_REMOTE = 1 << 4,   /* has a remote side: serve/remote_read/serve_stop, the network */
};

/* How the workload process maps the region. */
enum region_kind {
	REGION_FILE,      /* open(path) + mmap(MAP_SHARED) */
	REGION_ANON,      /* anonymous memory, pre-filled with version-0 content */
	REGION_ANON_UFFD, /* anonymous memory registered with userfaultfd, handed over */
};

/* One approach-specific option (-o key=value), documented by --help NAME. */
struct approach_opt {
	const char *name, *def, *help;
};

#define SCENARIO_MAX_OPTS 24

/* What a scenario does with the region. */
enum scenario_mode {
	MODE_ACCESS,  /* the workload accesses the region; sync; verify */
	MODE_MIGRATE, /* --migrate: the region moves from the local host to the third host
	               * while the workload writes (migrate_source/migrate_dest) */
};

/* Everything that defines one scenario; read-only for approaches. */
struct scenario {
	const struct approach_ops *ops;
	char profile[64];           /* netem profile name */
	struct workload wl;
	uint64_t size;              /* region size in bytes */
	uint64_t seed;              /* content model and workload seed */
	int nopts;
	struct { char key[32], val[96]; } opts[SCENARIO_MAX_OPTS];
	char workdir[PATH_MAX];     /* private scratch directory, removed afterwards */
	char local_addr[64];        /* address of the local host (migration source) */
	char remote_addr[64];       /* address of the remote host as the local host reaches it */
	char third_addr[64];        /* address of the third host (hub, migration destination) */
	enum scenario_mode mode;
	int port;                   /* TCP port of the remote side (set by serve() when it was 0) */
	int mig_port;               /* TCP port the migration source (local host) serves the
	                             * destination on; assigned by the runner, never 0 in MODE_MIGRATE */
	int ctl_port;               /* a second port of the approach's own (control channel, hub
	                             * listener), assigned by the runner on the host that listens */
	const uint32_t *versions;   /* content model versions (shared memory) */
};

/* The remote side's state, in the remote process. */
struct host {
	const struct scenario *sc;
	const char *name;           /* "remote", "third" */
	const char *addr;           /* this host's address */
	int port;                   /* port to listen on; 0 = pick one and store it here */
	void *priv;                 /* approach state */
};

/* The local side's view of the region, in the local process. */
struct region {
	const struct scenario *sc;
	enum region_kind kind;
	char path[PATH_MAX];        /* REGION_FILE: what the workload maps */
	int uffd_register_wp;       /* REGION_ANON_UFFD: also register write-protect mode;
	                             * REGION_FILE: the workload registers its mapping in async
	                             * write-protect mode (dirty tracking) and hands over the uffd
	                             * (r->uffd, then attach() if the approach has one) */
	int handler_in_workload;    /* REGION_ANON_UFFD: the workload process keeps the uffd and
	                             * calls workload_attach() (the approach's threads run there) */
	/* Filled by the harness before attach() for REGION_ANON_UFFD: */
	int uffd;
	void *addr;                 /* region address in the workload process */
	uint64_t size;
	int workload_pid;           /* pid of the workload process mapping the region */
	void *priv;                 /* approach state */
	/* Counters the approach may fill; written to the result record. */
	uint64_t faults, bytes_pulled, bytes_pushed, chunks_dirty;
	/* Set by the harness: an approach's own thread (e.g. a fault handler
	 * that gave up on the remote) reports a fatal error; the runner then
	 * fails the scenario with msg instead of waiting for a workload stuck
	 * in a fault. May be NULL. Safe to call from any thread, once or more. */
	void (*report_fatal)(struct region *r, const char *msg);
};

/* A migration in progress (see the migrate hooks). */
struct migration {
	/* Harness callback: stop the source's writer and wait until it is
	 * stopped; from here on the clock for downtime runs. */
	int (*suspend_source)(struct migration *m, struct err *e);
	void *harness;              /* harness state behind the callback */
	uint64_t rounds, bytes_moved, bytes_resent;
};

struct approach_ops {
	const char *name, *summary;
	unsigned caps;                         /* enum approach_cap */
	const char *unsupported;               /* non-NULL: why it cannot run in this build */
	const struct approach_opt *options;    /* NULL-name terminated, may be NULL */

	/* Can it run on this machine now? (kernel features, privileges). Optional. */
	int (*probe)(struct err *e);
	/* Remote process: prepare the remote copy with version-0 content and start
	 * serving (threads); return once the local side can connect. Needs CAP_REMOTE. */
	int (*serve)(struct host *h, struct err *e);
	/* Remote process: read the remote copy, for verification. Needs CAP_REMOTE. */
	int (*remote_read)(struct host *h, void *buf, size_t len, uint64_t off, struct err *e);
	/* Remote process: stop serving and free everything. */
	void (*serve_stop)(struct host *h);
	/* Local process: set up the local side and say how the region is mapped. Mandatory. */
	int (*open)(const struct scenario *sc, struct region *r, struct err *e);
	/* Local process: take over the workload's userfaultfd (REGION_ANON_UFFD). */
	int (*attach)(struct region *r, struct err *e);
	/* Workload process, when open() set handler_in_workload: the region is
	 * mapped and registered (r->uffd, r->addr, r->size, r->workload_pid =
	 * getpid()); start the approach's side here. Runs before the local
	 * process's attach(). */
	int (*workload_attach)(const struct scenario *sc, struct region *r, struct err *e);
	/* Workload process: stop what workload_attach() started (before unmapping). */
	void (*workload_detach)(struct region *r);
	/* Local process: push every local change to the remote copy. Optional. */
	int (*sync)(struct region *r, struct err *e);
	/* Local process: tear down the local side. Mandatory. */
	void (*close)(struct region *r);

	/* The runner, before the first scenario, for every approach of the run
	 * that is supported: check the run's -o options with the scenario_opt_*()
	 * helpers (whose errors name the option), so that a bad value refuses
	 * the run (exit 2) before anything starts. sc is as for the approach's
	 * first scenario as far as the plan says: ops, profile, wl, size, seed,
	 * opts, mode; no addresses, ports, workdir or versions yet. sc->opts holds
	 * every -o of the run: ignore keys the options table does not list.
	 * Optional: without it only the keys are checked (each must be listed by
	 * some approach of the run). */
	int (*check_options)(const struct scenario *sc, struct err *e);

	/* The runner, at the start of every run, in `memsync cleanup`, and after
	 * a scenario whose processes had to be killed: remove what a dead
	 * process of this approach left behind (a FUSE mount, a connected
	 * /dev/nbdX, a daemon) that the harness cannot know of. Things carry the
	 * pid of the process that created them ("ms<pid>-..."); one whose
	 * process no longer exists is stale, anything else is left alone (other
	 * runs may be in progress). Log one line per thing removed. Optional. */
	void (*cleanup_stale)(void);

	/* Migration (CAP_MIGRATE), `memsync run --migrate`. The source is the
	 * local host, where the workload keeps writing; the destination is the
	 * third host. */
	/* Destination process: set up the destination's region (like open) so
	 * a workload there can map it; it must be usable right after
	 * migrate_source() returns. */
	int (*migrate_dest)(const struct scenario *sc, struct region *r, struct err *e);
	/* Source local process: move the region to the destination while the
	 * writer runs; call m->suspend_source() when switching over (downtime
	 * starts), and return once the destination can resume. */
	int (*migrate_source)(struct region *r, struct migration *m, struct err *e);
};

/* Value of -o key for this scenario, or def when not given. */
const char *scenario_opt(const struct scenario *sc, const char *key, const char *def);
/* Option as a size ("64k"), with a clear error naming the option. */
int scenario_opt_size(const struct scenario *sc, const char *key, uint64_t def, uint64_t *out, struct err *e);
/* Option as a non-negative integer. */
int scenario_opt_uint(const struct scenario *sc, const char *key, uint64_t def, uint64_t *out, struct err *e);
/* Option as one of a NULL-terminated list of names: *out is its index; an
 * unknown value is an error that lists the accepted ones. */
int scenario_opt_enum(const struct scenario *sc, const char *key, const char *const *names, int def, int *out,
		      struct err *e);
/* Option as a boolean: on/off, yes/no, true/false, 1/0. */
int scenario_opt_bool(const struct scenario *sc, const char *key, int def, int *out, struct err *e);
/* Option as a duration ("250ms", "2s", "500us"; a bare number is ms), in ns.
 * Every duration option of every approach goes through this. */
int scenario_opt_duration(const struct scenario *sc, const char *key, uint64_t def_ns, uint64_t *out_ns,
			  struct err *e);
/* "access" or "migrate". */
const char *scenario_mode_name(enum scenario_mode mode);
/* The content model of a scenario (seed, size, current versions). */
struct content_model scenario_model(const struct scenario *sc);

/* The registry (harness/registry.c). */
extern const struct approach_ops *const approach_registry[];
/* Look up an approach by name; NULL if unknown. */
const struct approach_ops *approach_find(const char *name);

#endif
