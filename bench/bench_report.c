/*
 * Report cycles for N deployed contracts (default 10,000), against their
 * floor:
 *
 *   agent:  CPU time (CLOCK_PROCESS_CPUTIME_ID) and wall time of each
 *           rep_cycle that queues a cycle into a temporary store opened
 *           as the daemon opens it (durable, group-committed): the first
 *           (every contract's progress inserted), then C-1 more an hour
 *           apart (the steady state, rows rewritten), each after the chain
 *           applied the previous one and the agent settled it; with each
 *           cycle's minor page faults and context switches, which tell
 *           allocation and waiting apart from work. The store is
 *           checkpointed after the setup, so that the cycles' commits copy
 *           only their own pages out of the WAL;
 *   chain:  the devchain runtime in-process (runtime.h): every outbox item
 *           is checked against the devchain's metadata and applied as
 *           SmartContractModule.add_reports in one block context, as block
 *           production applies a call (signature checks and the block's
 *           SQLite commit excluded; one ed25519 verify is printed as their
 *           per-extrinsic floor);
 *   floor:  the N records SCALE-encoded bare into a buffer reserved once,
 *           in CPU time, R times before every cycle and after the last;
 *           its median over all those runs is what each cycle is divided
 *           by. A floor of about a millisecond moves by half from one run
 *           to the next on a shared machine (a busy sibling core, the
 *           cache the cycle left, the allocator's state when the buffer is
 *           grown each time), so one best-of-few figure taken apart from
 *           the cycles is not a sound divisor; the fresh-buffer form this
 *           bench used before is printed beside it;
 *   usage:  the daemon's usage source (rep_usage_prov) over the same store
 *           with provisioner counters that answer at once, per contract
 *           and from the cycle's snapshot: what a node adds to a cycle
 *           before the kernel's counters are read (the cycles above use a
 *           source that answers at once).
 *
 * Prints each cycle's ratio to the floor, their median and their maximum
 * (the aim: at most 20x), and beside them each cycle's ratio to the median
 * of the floor runs just before and after it: when the machine gets busier
 * for a moment both move together there, which tells a slow cycle from a
 * slow machine. The same contracts are also encoded for
 * tfchain's runtime (the metadata fixture, when present) to show its
 * extrinsic count.
 *
 *   bench_report [contracts (10000)] [cycles C (10)] [floor runs R (25)]
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "agent/reporter.h"
#include "agent/reporter_usage.h"
#include "agent/store.h"
#include "agent/store_int.h"
#include "bench/devchain_env.h"
#include "common/log.h"

#define FIXTURE "tests/fixtures/tfchain-metadata-v14-2023-04.scale"
#define GIB BENCH_GIB
/* The chain's and the cycle's time base: now, since the agent's store
 * stamps deployments with the wall clock and a cycle skips contracts
 * accepted after its timestamp. */
static uint64_t T0_S;

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_report: %s: %s\n", what, zerr_str(rc));
	exit(1);
}

/* Contracts 1..n on node 1, deployed at T0. */
static void chain_contracts(struct bench_chain *e, size_t n)
{
	for (size_t i = 1; i <= n; i++)
		bc_contract(e, i);
}

/* The agent's store: deployment i = contract i, two running workloads. */
static void agent_store(struct store *s, size_t n)
{
	int rc = store_begin(s);
	for (size_t i = 1; i <= n && rc == 0; i++) {
		struct store_dep d = {.contract_id = i, .twin_id = 1, .doc = "{}",
				      .state = STORE_DEP_DEPLOYED};
		memcpy(d.hash, &i, sizeof i);
		struct store_wl w[2] = {
			{.name = "disk", .type = "zmount", .spec = "{}", .state = STORE_WL_OK,
			 .cap = {.sru = 10 * GIB}},
			{.name = "vm", .type = "zmachine", .spec = "{}", .state = STORE_WL_OK,
			 .cap = {.cru = 1, .mru = 2 * GIB}},
		};
		rc = store_dep_insert(s, &d, w, 2);
		if (rc == 0)
			rc = store_dep_set_state(s, i, STORE_DEP_DEPLOYED, NULL);
		for (int k = 0; k < 2 && rc == 0; k++)
			rc = store_wl_set(s, i, w[k].name, STORE_WL_OK, "{}", "ok");
	}
	if (rc) {
		store_rollback(s);
		die("agent store", rc);
	}
	if ((rc = store_commit(s)))
		die("agent store commit", rc);
}

static int usage(void *ctx, uint64_t cid, uint64_t *bytes)
{
	*bytes = cid * 1000;
	return 0;
}

/* Applies every due outbox item on the chain, then records its outcome. */
static void chain_apply(struct bench_chain *e, struct store *s, size_t *nxt, size_t *nfail, double *secs)
{
	struct store_outbox *it = NULL;
	size_t n = 0;
	int rc = store_outbox_due(s, INT64_MAX, 100000, &it, &n);
	if (rc)
		die("outbox", rc);
	*nxt = n;
	*nfail = 0;
	*secs = 0;
	for (size_t i = 0; i < n; i++) {
		cJSON *p = cJSON_Parse(it[i].payload), *ordered = NULL;
		const char *which = NULL;
		struct zbuf b;
		zbuf_init(&b, 0);
		const cJSON *pa = cJSON_GetObjectItem(p, "pallet"), *ca = cJSON_GetObjectItem(p, "call");
		rc = cJSON_IsString(pa) && cJSON_IsString(ca) ? 0 : ZE_MALFORMED;
		if (rc == 0)
			rc = chain_call_args(e->m, pa->valuestring, ca->valuestring,
					     cJSON_GetObjectItem(p, "args"), &ordered, &which);
		if (rc == 0)
			rc = meta_encode_call(e->m, pa->valuestring, ca->valuestring, ordered, &b);
		double t = clk_seconds(CLOCK_MONOTONIC);
		if (rc == 0)
			rc = bc_apply(e, &e->charlie, b.data, b.len);
		*secs += clk_seconds(CLOCK_MONOTONIC) - t;
		if (rc)
			(*nfail)++;
		store_outbox_sending(s, it[i].id);
		store_outbox_done(s, it[i].id, rc ? "failed: bench" : "ok");
		cJSON_Delete(ordered);
		cJSON_Delete(p);
		zbuf_free(&b);
	}
	store_outbox_free(it, n);
}

/* One floor sample: the N records SCALE-encoded bare into b, in CPU
 * seconds of this thread (the cycles are measured in CPU time too, so
 * both sides count the same thing). b is reserved once and reused, so the
 * sample is the encoding alone: a buffer grown from nothing each time
 * adds page faults and reallocations whose cost depends on the allocator's
 * state (glibc moves its mmap threshold as large blocks come and go). */
static double floor_once(struct zbuf *b, size_t n)
{
	zbuf_reset(b);
	double t = clk_seconds(CLOCK_THREAD_CPUTIME_ID);
	for (size_t i = 1; i <= n; i++) {
		uint64_t v[7] = {i, T0_S + 3600, 1, 10 * GIB, 0, 2 * GIB, i * 1000};
		for (int k = 0; k < 7; k++)
			scale_put_u64(b, v[k]);
	}
	return clk_seconds(CLOCK_THREAD_CPUTIME_ID) - t;
}

/* The same into a fresh buffer, as this bench measured its floor before
 * 2026-12-07 (printed for comparison with those figures). */
static double floor_fresh(size_t n)
{
	struct zbuf b;
	zbuf_init(&b, 0);
	double t = floor_once(&b, n);
	zbuf_free(&b);
	return t;
}

/* The floor's samples, taken in runs between the cycles, so that both see
 * the same machine (a busy sibling core, the frequency of the moment). */
struct samples {
	double *v;
	size_t n, cap;
};

static void sample_add(struct samples *f, double v)
{
	if (f->n == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 64;
		double *nv = realloc(f->v, nc * sizeof *nv);
		if (!nv)
			die("floor", -ENOMEM);
		f->v = nv;
		f->cap = nc;
	}
	f->v[f->n++] = v;
}

/* reps samples of the floor, then as many of the fresh-buffer form. */
static void floor_run(struct samples *f, struct samples *fresh, struct zbuf *b, size_t n,
                      size_t reps)
{
	for (size_t i = 0; i < reps; i++)
		sample_add(f, floor_once(b, n));
	for (size_t i = 0; i < reps; i++)
		sample_add(fresh, floor_fresh(n));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorted in place); n >= 1. */
static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void floor_sig(const struct zkey *k, double *sign, double *verify)
{
	uint8_t msg[32] = {1}, sig[64];
	const int reps = 2000;
	double t = clk_seconds(CLOCK_MONOTONIC);
	for (int i = 0; i < reps; i++) {
		msg[0] = (uint8_t)i;
		key_sign(k, msg, sizeof msg, sig);
	}
	*sign = (clk_seconds(CLOCK_MONOTONIC) - t) / reps;
	t = clk_seconds(CLOCK_MONOTONIC);
	for (int i = 0; i < reps; i++)
		key_verify(k->pk, msg, sizeof msg, sig);
	*verify = (clk_seconds(CLOCK_MONOTONIC) - t) / reps;
}

/* Extrinsic count for tfchain's runtime, from the fixture's metadata. */
static void tfchain_count(size_t n)
{
	struct meta *m = NULL;
	struct rep_limits lim;
	if (access(FIXTURE, R_OK) != 0 || meta_load_file(FIXTURE, &m) != 0 ||
	    rep_limits(m, NULL, &lim) != 0) {
		printf("tfchain fixture: not available\n");
		meta_free(m);
		return;
	}
	size_t parts = (n + lim.max_records - 1) / lim.max_records;
	printf("tfchain runtime (fixture): report_contract_resources + add_nru_reports, "
	       "%zu records/call (BlockLength %zu B) -> %zu extrinsics\n",
	       lim.max_records, lim.max_xt_bytes, 2 * parts);
	meta_free(m);
}

/* The daemon's usage source (rep_usage_prov) over this store, with
 * provisioners whose counters answer at once: what a real node adds to a
 * cycle before the kernel's counters are read. */
static int stub_usage(struct prov_ctx *ctx, const struct prov_workload_id *id,
                      struct prov_usage *u, char *err, size_t errsz)
{
	u->net_rx_bytes = id->contract_id;
	return 0;
}

static const struct prov_ops stub_ops = {.type = "stub", .usage = stub_usage};

static const struct prov_ops *stub_lookup(const char *type)
{
	return &stub_ops;
}

static double usage_source(struct store *s, size_t n, int snapshot)
{
	struct rep_usage_prov u = {.store = s, .lookup = stub_lookup};
	uint64_t b;
	double t = clk_seconds(CLOCK_PROCESS_CPUTIME_ID);
	if (snapshot && rep_usage_prov_begin(&u) < 0)
		die("usage snapshot", -EIO);
	for (size_t i = 1; i <= n; i++)
		if (rep_usage_prov(&u, i, &b) < 0 || b != 2 * i)
			die("usage", -EIO);
	rep_usage_prov_end(&u);
	return clk_seconds(CLOCK_PROCESS_CPUTIME_ID) - t;
}

/* One cycle's cost: CPU of the whole process (a commit's sync runs on the
 * committing thread, but any helper thread would count too), wall time, and
 * what the kernel did for it. */
struct cost {
	double cpu, wall;
	long minflt, nvcsw, nivcsw;
};

static void cost_now(struct cost *c)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	c->cpu = clk_seconds(CLOCK_PROCESS_CPUTIME_ID);
	c->wall = clk_seconds(CLOCK_MONOTONIC);
	c->minflt = u.ru_minflt;
	c->nvcsw = u.ru_nvcsw;
	c->nivcsw = u.ru_nivcsw;
}

static void cost_since(struct cost *c)
{
	struct cost b = *c;
	cost_now(c);
	c->cpu -= b.cpu;
	c->wall -= b.wall;
	c->minflt -= b.minflt;
	c->nvcsw -= b.nvcsw;
	c->nivcsw -= b.nivcsw;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	size_t ncycles = argc > 2 ? strtoul(argv[2], NULL, 10) : 10;
	size_t reps = argc > 3 ? strtoul(argv[3], NULL, 10) : 25;
	char dir[] = "/tmp/bench_report.XXXXXX";
	struct bench_chain e;
	struct store *s = NULL;
	struct rep *r = NULL;
	struct rep_stats st;
	struct samples fl = {0}, flfresh = {0};
	struct zbuf fbuf;
	int rc;

	if (n == 0 || n > 1000000 || ncycles == 0 || ncycles > 1000 || reps == 0 ||
	    reps > 10000 || sodium_init() < 0) {
		fprintf(stderr, "usage: bench_report [contracts (10000)] [cycles (10)] "
				"[floor repetitions between cycles (25)]\n");
		return 2;
	}
	T0_S = (uint64_t)time(NULL);
	zbuf_init(&fbuf, 0);
	if (zbuf_reserve(&fbuf, n * 7 * 8) < 0)
		die("floor buffer", -ENOMEM);
	log_setup(LOG_LVL_WARN, LOG_TARGET_STDERR, "bench_report");
	double t = clk_seconds(CLOCK_MONOTONIC);
	bc_setup(&e, "bench_report", T0_S);
	chain_contracts(&e, n);
	if (!mkdtemp(dir) || (rc = store_open(dir, 0, &s)))
		die("store", errno ? -errno : -EIO);
	agent_store(s, n);
	/* The setup's last writes still sit in the WAL: copied now, they are
	 * not billed to whichever cycle's commit would copy them. */
	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
	    SQLITE_OK)
		die("checkpoint", -EIO);
	printf("setup: %zu contracts on chain and in the store in %.1f s\n", n,
	       clk_seconds(CLOCK_MONOTONIC) - t);

	struct rep_deps deps = {.store = s, .meta = e.m, .usage = usage};
	if ((rc = rep_new(NULL, &deps, &r)))
		die("rep_new", rc);
	struct rep_limits lim;
	rep_limits(e.m, NULL, &lim);
	size_t min_xt = (n + lim.max_records - 1) / lim.max_records;
	struct cost *cyc = calloc(ncycles, sizeof *cyc), first_settle = {0};
	double *ratio = calloc(ncycles, sizeof *ratio);
	if (!cyc || !ratio)
		die("cycles", -ENOMEM);

	/*
	 * Cycle 1 inserts every contract's progress, the later ones are the
	 * steady state (every contract has progress, rows are rewritten). After
	 * each cycle the chain applies its extrinsics and the agent settles
	 * them, as the daemon would before the next cycle an hour later. The
	 * floor runs before every cycle and after the last.
	 */
	int64_t now_ms = (int64_t)(T0_S + 3600) * 1000;
	size_t nxt0 = 0, nfail = 0;
	double apply0 = 0;
	uint32_t events0 = 0;
	for (size_t c = 0; c < ncycles; c++) {
		floor_run(&fl, &flfresh, &fbuf, n, reps);
		e.ctx.now_ms = (uint64_t)now_ms + 6000; /* the including block, a little later */
		cost_now(&cyc[c]);
		rc = rep_cycle(r, now_ms);
		cost_since(&cyc[c]);
		rep_stats(r, &st);
		if (rc || !st.queued || st.records != n)
			die("rep_cycle", rc ? rc : -EIO);

		size_t nxt, nf;
		double apply_s;
		uint32_t ev0 = e.ctx.nevents;
		chain_apply(&e, s, &nxt, &nf, &apply_s);
		nfail += nf;
		if (c == 0) {
			nxt0 = nxt;
			apply0 = apply_s;
			events0 = e.ctx.nevents - ev0;
		}

		struct cost sc;
		cost_now(&sc);
		rc = rep_cycle(r, now_ms + 1000);
		cost_since(&sc);
		rep_stats(r, &st);
		if (rc || st.resolved_ok != n)
			die("settle", rc ? rc : -EIO);
		if (c == 0)
			first_settle = sc;
		now_ms = rep_next_ms(r);
	}
	floor_run(&fl, &flfresh, &fbuf, n, reps);

	double fsign, fverify;
	floor_sig(&e.charlie, &fsign, &fverify);
	double fmin = 1e9, fmax = 0;
	for (size_t i = 0; i < fl.n; i++) {
		fmin = fl.v[i] < fmin ? fl.v[i] : fmin;
		fmax = fl.v[i] > fmax ? fl.v[i] : fmax;
	}
	/* Each cycle's neighbourhood: the floor runs just before and just
	 * after it (fl.v holds them in order, reps per run, until sorted). */
	double *local = calloc(ncycles, sizeof *local), *lratio = calloc(ncycles, sizeof *lratio);
	double *tmp = malloc(2 * reps * sizeof *tmp);
	if (!local || !lratio || !tmp)
		die("floor", -ENOMEM);
	for (size_t c = 0; c < ncycles; c++) {
		memcpy(tmp, fl.v + c * reps, 2 * reps * sizeof *tmp);
		local[c] = median(tmp, 2 * reps);
	}
	double fmed = median(fl.v, fl.n), ffresh = median(flfresh.v, flfresh.n);

	printf("floor: SCALE-encode %zu records bare, median of %zu runs interleaved with the "
	       "cycles: %.3f ms cpu (min %.3f, max %.3f); into a fresh buffer each time "
	       "(the floor before 2026-12-07): median %.3f ms\n",
	       n, fl.n, fmed * 1e3, fmin * 1e3, fmax * 1e3, ffresh * 1e3);
	printf("cycle  kind    cpu ms  wall ms  minflt  vcsw  ivcsw  cpu/floor  (adjacent floor)\n");
	for (size_t c = 0; c < ncycles; c++) {
		ratio[c] = cyc[c].cpu / fmed;
		lratio[c] = cyc[c].cpu / local[c];
		printf("%5zu  %-6s %7.2f %8.1f %7ld %5ld %6ld  %8.1fx  (%.3f ms: %.1fx)\n", c + 1,
		       c ? "next" : "first", cyc[c].cpu * 1e3, cyc[c].wall * 1e3, cyc[c].minflt,
		       cyc[c].nvcsw, cyc[c].nivcsw, ratio[c], local[c] * 1e3, lratio[c]);
	}
	double rmax = 0, lmax = 0;
	for (size_t c = 0; c < ncycles; c++) {
		rmax = ratio[c] > rmax ? ratio[c] : rmax;
		lmax = lratio[c] > lmax ? lratio[c] : lmax;
	}
	double rmed = median(ratio, ncycles), lmed = median(lratio, ncycles);
	printf("cycle cpu / floor over %zu cycles: median %.1fx, max %.1fx (aim <= 20x); "
	       "against the adjacent floor runs: median %.1fx, max %.1fx\n",
	       ncycles, rmed, rmax, lmed, lmax);
	printf("agent rep_cycle (first settle, with the daily prune): cpu %.2f ms, wall %.1f ms\n",
	       first_settle.cpu * 1e3, first_settle.wall * 1e3);
	printf("extrinsics: %zu add_reports (minimum for %zu records/call: %zu)\n", nxt0,
	       lim.max_records, min_xt);
	printf("chain apply (devchain runtime, in-process), first cycle: %.1f ms for %zu "
	       "extrinsics, %u events; %zu failed over all cycles\n",
	       apply0 * 1e3, nxt0, events0, nfail);
	double ua = 1e9, us = 1e9;
	for (int k = 0; k < 3; k++) {
		double a = usage_source(s, n, 0), b = usage_source(s, n, 1);
		ua = a < ua ? a : ua;
		us = b < us ? b : us;
	}
	printf("usage source on a node (rep_usage_prov, counters answering at once, best of 3): "
	       "%.1f ms one contract at a time, %.1f ms from the cycle's snapshot\n",
	       ua * 1e3, us * 1e3);
	printf("ed25519 sign %.1f us, verify %.1f us\n", fsign * 1e6, fverify * 1e6);
	tfchain_count(n);

	free(fl.v);
	free(flfresh.v);
	free(local);
	free(lratio);
	free(tmp);
	zbuf_free(&fbuf);
	free(cyc);
	free(ratio);
	rep_free(r);
	store_close(s);
	char p[128];
	const char *sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/agent.db%s", dir, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
	bc_free(&e);
	return nfail ? 1 : 0;
}
