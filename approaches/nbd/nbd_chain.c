/*
 * nbd_chain.c - `memsync-nbd chain`: the two-hop migration A -> B -> C
 * over real kernel devices, each hop the approach's own two-phase
 * migration (nbd_migrate.c), each side a process of its own.
 *
 *   origin  the remote copy: the approach's serve() (version-0 content)
 *   A       open() in migration mode: a managed mount of the origin on its
 *           own /dev/nbdX, tracking writes, seeding on hop 1's port
 *   B       migrate_dest() of hop 1: a leecher on its own /dev/nbdY pulling
 *           from A; after hop 1 it seeds hop 2 (nbd_seed_next)
 *   C       migrate_dest() of hop 2: a leecher on /dev/nbdZ pulling from B
 *
 * This process is the orchestrator and the writer. The writer maps A's
 * device MAP_SHARED and writes whole 4 KiB blocks at --rate, each a new
 * version of the content model (content.h), while B starts and pulls. A's
 * finalize (migrate_source) asks it to suspend (msync, unmap); once the
 * dirty list reached B the writer resumes on B's device. Then B seeds C,
 * the same again, and C's device is read back and compared byte for byte
 * with the model (every write made on A and on B); the writer then writes
 * on C as well and C is verified once more.
 *
 * --kill-seeder BYTES: B kills its process once it served that many bytes
 * to C (the fault_seeder_kill hook). C must keep what it has and fail its
 * pull with a clear error; the writer is never resumed on C (it stops on B
 * before C starts: a write fault on a device whose server died is SIGBUS);
 * B's device, which a killed process leaves connected with netlink, is
 * disconnected at the end (nbd_kernel_cleanup_stale says so).
 *
 * Prints one JSON line (type nbd-chain). Exit 0 when both hops passed and
 * C was verified, 1 otherwise (with --kill-seeder too, by design), 2 on
 * bad usage. Children die with this process (PR_SET_PDEATHSIG); each
 * disconnects its device on the way out.
 *
 * The sides and the channel are in nbd_chain_peer.c. Channel (a
 * socketpair per child, one line per message): the child says
 * "ok INFO" or "fail MESSAGE" once started (INFO: the origin's port, a
 * device path) and after each command; during a finalize it says
 * "suspend", answered "ok" once the writer stopped. Commands: "finalize",
 * "seed", "pulled MS"; end of file: close and exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "content.h"
#include "io.h"
#include "log.h"
#include "nbd_chain.h"
#include "nbd_int.h"
#include "record.h"
#include "units.h"

extern const struct approach_ops nbd_ops;

#define TICK_NS 10000000ull     /* the writer writes a batch every 10 ms */
#define ANSWER_MS 300000ull     /* a child answers within this (TCG, sanitizers) */
#define VERIFY_PIECE (1u << 20)

/* ---- the writer ---------------------------------------------------------- */

/* Map a device (on: whose, for the counters). */
static int writer_map(struct writer *w, const char *path, int on, struct err *e)
{
	w->fd = open(path, O_RDWR | O_CLOEXEC);
	if (w->fd < 0)
		return err_errno(e, errno, "writer: open %s", path);
	off_t end = lseek(w->fd, 0, SEEK_END);
	if (end < 0 || (uint64_t)end < w->size)
		return err_set(e, "writer: %s has %lld bytes, the region %" PRIu64, path, (long long)end, w->size);
	void *p = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
	if (p == MAP_FAILED)
		return err_errno(e, errno, "writer: mmap %s", path);
	w->map = p;
	w->on = on;
	return 0;
}

/* Stop writing: msync (every write reaches the device), unmap. */
static int writer_stop(struct writer *w, struct err *e)
{
	int rc = w->map && msync(w->map, w->size, MS_SYNC) ? err_errno(e, errno, "writer: msync") : 0;
	chain_writer_drop(w);
	return rc;
}

/* One batch: per_tick random whole blocks, each at its next version. */
static void writer_tick(struct writer *w)
{
	uint64_t nblocks = w->size / CONTENT_BLOCK;
	for (uint64_t i = 0; i < w->per_tick; i++) {
		w->rng ^= w->rng << 13;
		w->rng ^= w->rng >> 7;
		w->rng ^= w->rng << 17;
		uint64_t b = w->rng % nblocks;
		content_fill_block(w->seed, b, ++w->versions[b], w->map + b * CONTENT_BLOCK);
	}
	w->writes[w->on] += w->per_tick;
}

/* Write (while a device is mapped) until p says something other than
 * "suspend", into line (p NULL: for ms). A "suspend" is answered "ok" once
 * the writer stopped. -1 when p is gone or silent for ms. */
static int writer_run(struct writer *w, struct peer *p, uint64_t ms, char *line, size_t cap, struct err *e)
{
	uint64_t now = now_ns(), end = now + ms * 1000000ull, next = now;
	for (;;) {
		now = now_ns();
		if (now >= end)
			return p ? err_set(e, "%s: no answer within %" PRIu64 " ms", p->name, ms) : 0;
		if (w->map && now >= next) {
			writer_tick(w);
			next = now - next > 10 * TICK_NS ? now + TICK_NS : next + TICK_NS;
			continue;
		}
		uint64_t until = w->map && next < end ? next : end;
		struct pollfd pf = {p ? p->fd : -1, POLLIN, 0};
		int n = poll(&pf, 1, (int)((until - now) / 1000000ull) + 1);
		if (n < 0 && errno != EINTR)
			return err_errno(e, errno, "writer: poll");
		if (n <= 0 || !p)
			continue;
		if (chain_hear(p->fd, line, cap))
			return err_set(e, "%s: its channel closed (the process is gone)", p->name);
		if (strcmp(line, "suspend"))
			return 0;
		if (writer_stop(w, e))
			return -1;
		w->suspended_ns = now_ns();
		if (chain_say(p->fd, "ok"))
			return err_errno(e, errno, "%s: confirming the suspension", p->name);
	}
}

/* Wait for p's answer while writing: "ok INFO" -> 0 (INFO in p->info), "fail MESSAGE" -> -1. */
static int answer(struct chain *ch, struct peer *p, struct err *e)
{
	char line[640];
	if (writer_run(&ch->w, p, ANSWER_MS, line, sizeof line, e))
		return -1;
	if (!strncmp(line, "ok", 2) && (!line[2] || line[2] == ' ')) {
		snprintf(p->info, sizeof p->info, "%s", line[2] ? line + 3 : "");
		return 0;
	}
	if (!strncmp(line, "fail ", 5))
		return err_set(e, "%s: %s", p->name, line + 5);
	return err_set(e, "%s: unexpected answer '%s'", p->name, line);
}

/* Send p a command and wait for its answer while writing. */
static int call(struct chain *ch, struct peer *p, const char *cmd, struct err *e)
{
	if (chain_say(p->fd, "%s", cmd))
		return err_errno(e, errno, "%s: sending '%s' (the process is gone?)", p->name, cmd);
	return answer(ch, p, e);
}

/* Start p and wait (writing) until it is ready; its port or device in p->dev. */
static int start(struct chain *ch, struct peer *p, struct err *e)
{
	if (chain_spawn(ch, p, e) || answer(ch, p, e))
		return -1;
	snprintf(p->dev, sizeof p->dev, "%s", p->info);
	return 0;
}

/* ---- the chain ----------------------------------------------------------- */

/* Read the device at path back and compare it with the model. */
static int verify(struct chain *ch, const char *path, struct err *e)
{
	struct content_model m = {.seed = ch->w.seed, .size = ch->w.size, .versions = ch->w.versions};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, errno, "verify: open %s", path);
	unsigned char *buf = malloc(VERIFY_PIECE);
	int rc = buf ? 0 : err_errno(e, ENOMEM, "verify");
	for (uint64_t off = 0; !rc && off < m.size; off += VERIFY_PIECE) {
		size_t n = m.size - off < VERIFY_PIECE ? (size_t)(m.size - off) : VERIFY_PIECE;
		uint64_t bad;
		if (read_all(fd, buf, n))
			rc = err_errno(e, errno, "verify: reading %s at %" PRIu64, path, off);
		else if (content_check(&m, buf, off, n, &bad))
			rc = err_set(e, "%s differs from the content model at byte %" PRIu64 " (block version %u)", path,
				     bad, content_version(&m, bad));
	}
	free(buf);
	close(fd);
	return rc;
}

/* Hop n: src finalizes (the writer suspends when asked), the writer resumes on dst. */
static int chain_hop(struct chain *ch, int n, struct peer *src, struct peer *dst, struct err *e)
{
	struct hop_result *h = &ch->res[n];
	ch->w.suspended_ns = 0;
	if (call(ch, src, "finalize", e))
		return -1;
	if (!ch->w.suspended_ns)
		return err_set(e, "hop %d: %s finalized without suspending the writer", n, src->name);
	if (sscanf(src->info, "%" SCNu64 " %" SCNu64, &h->moved, &h->resent) != 2)
		return err_set(e, "hop %d: %s answered '%s'", n, src->name, src->info);
	if (writer_map(&ch->w, dst->dev, n, e))
		return -1;
	h->downtime_ns = now_ns() - ch->w.suspended_ns;
	h->done = 1;
	return 0;
}

/* --kill-seeder: B dies while C pulls; C keeps what it has and its pull
 * fails clearly; the writer is not resumed on C. Always returns -1. */
static int chain_killed(struct chain *ch, struct err *e)
{
	struct peer *b = &ch->peer[P_B], *c = &ch->peer[P_C];
	struct err cs = {0}, fin = {0}, pull = {0};
	char how[64];
	if (writer_stop(&ch->w, e))
		return -1;
	int started = start(ch, c, &cs) == 0;
	if (started && call(ch, b, "finalize", &fin) == 0)
		return err_set(e, "hop 2 finalized although B was to die after serving %" PRIu64 " bytes", ch->kill);
	chain_reap(b);
	if (!WIFSIGNALED(b->status) || WTERMSIG(b->status) != SIGKILL)
		return err_set(e, "B %s, not killed by its fault_seeder_kill hook: %s", chain_ended(b, how, sizeof how),
			       fin.msg);
	if (started && call(ch, c, "pulled 60000", &pull) == 0)
		return err_set(e, "C's pull completed although its seeder B was killed");
	return err_set(e, "hop 2: the seeder B was %s mid-pull; %s; the writer was not resumed on C",
		       chain_ended(b, how, sizeof how), started ? pull.msg : cs.msg); /* both say "C: ..." */
}

/* The whole chain. */
static int chain_run(struct chain *ch, struct err *e)
{
	struct writer *w = &ch->w;
	struct peer *o = &ch->peer[P_ORIGIN], *a = &ch->peer[P_A], *b = &ch->peer[P_B], *c = &ch->peer[P_C];
	if (start(ch, o, e))
		return -1;
	ch->hop[1].port = atoi(o->dev);
	/* Hop 1: the writer runs on A while B starts and pulls from A. */
	if (start(ch, a, e) || writer_map(w, a->dev, 0, e) || start(ch, b, e) ||
	    writer_run(w, NULL, ch->phase_ms, NULL, 0, e) || chain_hop(ch, 1, a, b, e))
		return -1;
	/* Hop 2: the writer runs on B, which seeds C. */
	if (writer_run(w, NULL, ch->phase_ms, NULL, 0, e) || call(ch, b, "seed", e))
		return -1;
	if (ch->kill)
		return chain_killed(ch, e);
	if (start(ch, c, e) || writer_run(w, NULL, ch->phase_ms, NULL, 0, e) || chain_hop(ch, 2, b, c, e))
		return -1;
	/* C holds every write made on A and B; then the writer writes on C too. */
	if (writer_stop(w, e) || verify(ch, c->dev, e) || writer_map(w, c->dev, 2, e) ||
	    writer_run(w, NULL, ch->phase_ms, NULL, 0, e) || writer_stop(w, e) || verify(ch, c->dev, e))
		return -1;
	ch->verified = 1;
	return 0;
}

/* Stop every child (C first), then disconnect what a killed one left. */
static int chain_teardown(struct chain *ch, struct err *e)
{
	char how[64];
	chain_writer_drop(&ch->w);
	for (int i = NPEERS - 1; i >= 0; i--) {
		struct peer *p = &ch->peer[i];
		int was_running = p->pid > 0;
		chain_reap(p);
		if (was_running && (p->hung || !WIFEXITED(p->status) || WEXITSTATUS(p->status)))
			err_set(e, "%s %s", p->name, chain_ended(p, how, sizeof how));
	}
	int n = nbd_kernel_cleanup_stale();
	if (n)
		log_info("nbd chain: %d device%s of dead processes disconnected", n, n == 1 ? "" : "s");
	if (rmdir(ch->workdir))
		log_warn("nbd chain: cannot remove %s: %s", ch->workdir, strerror(errno));
	return e->set ? -1 : 0;
}

/* A hop's outcome as a nested object. */
static void rec_hop(struct record *r, const char *key, const struct hop_result *h)
{
	rec_obj(r, key);
	rec_bool(r, "done", h->done);
	rec_f64(r, "downtime_ms", (double)h->downtime_ns / 1e6);
	rec_u64(r, "bytes_moved", h->moved);
	rec_u64(r, "bytes_resent", h->resent);
	rec_end_obj(r);
}

/* The result line on stdout. */
static void report(const struct chain *ch, const struct err *e)
{
	struct record r;
	rec_begin(&r);
	rec_str(&r, "type", "nbd-chain");
	rec_u64(&r, "size", ch->w.size);
	rec_str(&r, "chunk", scenario_opt(&ch->hop[1], "chunk", "1m"));
	rec_u64(&r, "rate", ch->rate);
	rec_u64(&r, "kill_seeder", ch->kill);
	rec_obj(&r, "writes");
	rec_u64(&r, "a", ch->w.writes[0]);
	rec_u64(&r, "b", ch->w.writes[1]);
	rec_u64(&r, "c", ch->w.writes[2]);
	rec_end_obj(&r);
	rec_hop(&r, "hop1", &ch->res[1]);
	rec_hop(&r, "hop2", &ch->res[2]);
	rec_bool(&r, "verified", ch->verified);
	rec_bool(&r, "resumed_on_c", ch->res[2].done);
	rec_str(&r, "status", e->set ? "fail" : "pass");
	rec_str(&r, "reason", e->set ? e->msg : "");
	if (rec_write(&r, stdout))
		log_warn("nbd chain: cannot write the result line");
}

/* ---- command line -------------------------------------------------------- */

/* Add -o KEY=VALUE to the scenario (an option of the approach, not the test hook). */
static int add_opt(struct scenario *sc, const char *kv, struct err *e)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : 0;
	if (!eq || !klen || klen >= sizeof sc->opts[0].key || strlen(eq + 1) >= sizeof sc->opts[0].val)
		return err_set(e, "bad -o '%s': expected KEY=VALUE", kv);
	if (sc->nopts >= SCENARIO_MAX_OPTS - 1)
		return err_set(e, "too many -o");
	int known = 0;
	for (const struct approach_opt *o = nbd_ops.options; o->name && !known; o++)
		known = strlen(o->name) == klen && !strncmp(o->name, kv, klen);
	if (!known || !strncmp(kv, "fault_seeder_kill=", 18))
		return err_set(e, "-o %.*s: not an option of nbd here (see memsync help nbd; --kill-seeder for the hook)",
			       (int)klen, kv);
	memcpy(sc->opts[sc->nopts].key, kv, klen);
	sc->opts[sc->nopts].key[klen] = 0;
	snprintf(sc->opts[sc->nopts].val, sizeof sc->opts[0].val, "%s", eq + 1);
	sc->nopts++;
	return 0;
}

/* A loopback TCP port nothing listens on (bound to 0 and read back); *fd holds it until closed. */
static int pick_port(int *fd, struct err *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&sa, sizeof sa) || getsockname(*fd, (struct sockaddr *)&sa, &len))
		return err_errno(e, errno, "nbd chain: picking a port");
	return ntohs(sa.sin_port);
}

/* Parse the command line into hop 1's scenario and the chain's knobs. */
static int chain_parse(int argc, char **argv, struct chain *ch, struct err *e)
{
	static const struct option lo[] = {{"size", 1, 0, 's'}, {"seed", 1, 0, 'S'}, {"rate", 1, 0, 'r'},
					   {"phase", 1, 0, 'p'}, {"kill-seeder", 1, 0, 'k'}, {0, 0, 0, 0}};
	struct scenario *sc = &ch->hop[1];
	uint64_t ns = 500000000ull;
	sc->ops = &nbd_ops;
	sc->mode = MODE_MIGRATE;
	sc->size = 16ull << 20;
	sc->seed = 1;
	ch->rate = 2ull << 20;
	optind = 1;
	for (int c; (c = getopt_long(argc, argv, "o:", lo, NULL)) != -1;) {
		int rc = 0;
		if (c == 's')
			rc = parse_size(optarg, &sc->size, e);
		else if (c == 'S')
			sc->seed = strtoull(optarg, NULL, 0);
		else if (c == 'r')
			rc = parse_size(optarg, &ch->rate, e);
		else if (c == 'p')
			rc = parse_duration_ns(optarg, &ns, e);
		else if (c == 'k')
			rc = parse_size(optarg, &ch->kill, e);
		else if (c == 'o')
			rc = add_opt(sc, optarg, e);
		else
			rc = err_set(e, "bad chain options (see the usage line)");
		if (rc)
			return -1;
	}
	if (optind < argc || !sc->size || sc->size % CONTENT_BLOCK || !ch->rate)
		return err_set(e, "chain: --size must be a multiple of 4k and --rate positive");
	ch->phase_ms = ns / 1000000ull;
	return 0;
}

/* The scenarios of the origin and both hops, the peers, the writer. */
static int chain_setup(struct chain *ch, struct err *e)
{
	struct scenario *h1 = &ch->hop[1];
	int fds[4], ports[4], rc = 0;
	for (int i = 0; i < 4; i++)
		fds[i] = -1;
	for (int i = 0; i < 4 && !rc; i++)
		rc = (ports[i] = pick_port(&fds[i], e)) < 0;
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	char dir[] = "/tmp/memsync-nbd-chain.XXXXXX";
	if (rc || !mkdtemp(dir))
		return rc ? -1 : err_errno(e, errno, "nbd chain: work directory");
	snprintf(ch->workdir, sizeof ch->workdir, "%s", dir);
	snprintf(h1->profile, sizeof h1->profile, "loopback");
	snprintf(h1->workdir, sizeof h1->workdir, "%s", ch->workdir);
	snprintf(h1->local_addr, sizeof h1->local_addr, CHAIN_ADDR);
	snprintf(h1->remote_addr, sizeof h1->remote_addr, CHAIN_ADDR);
	snprintf(h1->third_addr, sizeof h1->third_addr, CHAIN_ADDR);
	ch->hop[0] = *h1;
	ch->hop[0].mode = MODE_ACCESS;
	ch->hop[2] = *h1;
	h1->mig_port = ports[0];
	h1->ctl_port = ports[1];
	ch->hop[2].mig_port = ports[2];
	ch->hop[2].ctl_port = ports[3];
	if (ch->kill) {
		struct scenario *h2 = &ch->hop[2];
		snprintf(h2->opts[h2->nopts].key, sizeof h2->opts[0].key, "fault_seeder_kill");
		snprintf(h2->opts[h2->nopts].val, sizeof h2->opts[0].val, "%" PRIu64, ch->kill);
		h2->nopts++;
	}
	static const char *const names[NPEERS] = {"origin", "A", "B", "C"};
	static const enum role roles[NPEERS] = {ROLE_ORIGIN, ROLE_SOURCE, ROLE_LEECHER, ROLE_LEECHER};
	for (int i = 0; i < NPEERS; i++) {
		ch->peer[i] = (struct peer){.name = names[i], .role = roles[i], .fd = -1};
		ch->peer[i].sc = &ch->hop[i == P_C ? 2 : i == P_ORIGIN ? 0 : 1];
	}
	ch->peer[P_B].next = &ch->hop[2];
	struct writer *w = &ch->w;
	w->size = h1->size;
	w->seed = h1->seed;
	w->rng = h1->seed * 0x9e3779b97f4a7c15ull + 1;
	w->fd = -1;
	w->per_tick = ch->rate * TICK_NS / 1000000000ull / CONTENT_BLOCK;
	if (!w->per_tick)
		w->per_tick = 1;
	if (!(w->versions = calloc(w->size / CONTENT_BLOCK, sizeof *w->versions)))
		return err_errno(e, ENOMEM, "nbd chain: versions");
	return 0;
}

/* memsync-nbd chain [--size S] [--seed N] [--rate R] [--phase D] [--kill-seeder BYTES] [-o K=V]... */
int nbd_chain_main(int argc, char **argv)
{
	struct chain *ch = calloc(1, sizeof *ch);
	struct err e = {0};
	if (!ch)
		return 1;
	for (int i = 0; i < NPEERS; i++)
		ch->peer[i].fd = -1;
	if (chain_parse(argc, argv, ch, &e) || nbd_ops.check_options(&ch->hop[1], &e)) {
		fprintf(stderr, "memsync-nbd: %s\n", e.msg);
		free(ch);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int rc = chain_setup(ch, &e);
	if (!rc)
		rc = chain_run(ch, &e);
	if (ch->workdir[0])
		rc |= chain_teardown(ch, &e);
	report(ch, &e);
	if (e.set)
		fprintf(stderr, "memsync-nbd chain: %s\n", e.msg);
	free(ch->w.versions);
	free(ch);
	return rc ? 1 : 0;
}
