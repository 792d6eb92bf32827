/*
 * uffd.h - the parts of the uffd approach its hooks (uffd.c) dispatch to:
 * the options (uffd_opts.c) and the two modes built on the core
 * (uffd_int.h): the handler in the workload process (uffd_inproc.c) and
 * post-copy migration (uffd_migrate.c).
 */
#ifndef MEMSYNC_UFFD_H
#define MEMSYNC_UFFD_H

#include "uffd_int.h"

/* Where the handler threads run (option handler). */
enum uffd_handler {
	UFFD_HANDLER_PROCESS,   /* the local process; the workload hands over the userfaultfd */
	UFFD_HANDLER_INPROCESS, /* the workload process itself (uffd_inproc.c) */
};

/* uffd_opts.c */
/* The options, for --help and the registry. */
extern const struct approach_opt uffd_options[];
/* Parse the -o options: the core's tuning into c, the handler's place into *handler. */
int uffd_parse_opts(const struct scenario *sc, struct uffd_cfg *c, enum uffd_handler *handler, struct err *e);

/* uffd_inproc.c (handler=inprocess) */
/* Workload process: build the core, connect and start its threads here. */
int uffd_workload_attach(const struct scenario *sc, struct region *r, struct err *e);
/* Workload process: stop them. */
void uffd_workload_detach(struct region *r);
/* Local process: say the handler runs in the workload (options checked into cfg). */
int uffd_inproc_open(const struct scenario *sc, struct region *r, const struct uffd_cfg *cfg, struct err *e);
/* Local process: connect to the workload's control socket. */
int uffd_inproc_attach(struct region *r, struct err *e);
/* Local process: ask the workload's handler to push; take its counters. */
int uffd_inproc_sync(struct region *r, struct err *e);
/* Local process: hang up. */
void uffd_inproc_close(struct region *r);

/* uffd_migrate.c (--migrate, post-copy) */
/* Destination process: an empty registered region pulling from the source. */
int uffd_migrate_dest(const struct scenario *sc, struct region *r, const struct uffd_cfg *cfg, struct err *e);
/* Source local process: serve the region to the destination, suspend the writer, switch over. */
int uffd_migrate_source(struct region *r, struct migration *m, struct err *e);

#endif
