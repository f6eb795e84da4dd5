/*
 * One capacity report cycle for N deployed contracts (default 10,000):
 *
 *   agent:  CPU time (getrusage) and wall time of rep_cycle queueing the
 *           first cycle into a temporary store (synchronous=FULL, as the
 *           daemon runs it), of the rep_cycle that settles it afterwards,
 *           and of the next cycle an hour later (the steady state);
 *           the number of extrinsics it produced beside the minimum the
 *           size limits allow;
 *   chain:  the devchain runtime in-process (runtime.h): every outbox item
 *           is checked against the devchain's metadata and applied as
 *           SmartContractModule.add_reports in one block context, as block
 *           production applies a call (signature checks and the block's
 *           SQLite commit excluded; one ed25519 verify is printed as their
 *           per-extrinsic floor);
 *   floors: SCALE-encoding the N records bare, one ed25519 signature.
 *
 * The same contracts are also encoded for tfchain's runtime (the metadata
 * fixture, when present) to show its extrinsic count.
 *
 *   bench_report [contracts (10000)]
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
#include "agent/store.h"
#include "bench/devchain_env.h"
#include "common/log.h"

#define FIXTURE "tests/fixtures/tfchain-metadata-v14-2023-04.scale"
#define GIB BENCH_GIB
/* The chain's and the cycle's time base: now, since the agent's store
 * stamps deployments with the wall clock and a cycle skips contracts
 * accepted after its timestamp. */
static uint64_t T0_S;

static double cpu(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
	       (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

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

/* Floor: the N records SCALE-encoded bare, best of 5 runs. */
static double floor_encode(size_t n)
{
	double best = 1e9;
	for (int run = 0; run < 5; run++) {
		struct zbuf b;
		zbuf_init(&b, 0);
		double t = clk_seconds(CLOCK_MONOTONIC);
		for (size_t i = 1; i <= n; i++) {
			uint64_t v[7] = {i, T0_S + 3600, 1, 10 * GIB, 0, 2 * GIB, i * 1000};
			for (int k = 0; k < 7; k++)
				scale_put_u64(&b, v[k]);
		}
		t = clk_seconds(CLOCK_MONOTONIC) - t;
		if (t < best)
			best = t;
		zbuf_free(&b);
	}
	return best;
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

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	char dir[] = "/tmp/bench_report.XXXXXX";
	struct bench_chain e;
	struct store *s = NULL;
	struct rep *r = NULL;
	struct rep_stats st;
	int rc;

	if (n == 0 || n > 1000000 || sodium_init() < 0)
		return 2;
	T0_S = (uint64_t)time(NULL);
	log_setup(LOG_LVL_WARN, LOG_TARGET_STDERR, "bench_report");
	double t = clk_seconds(CLOCK_MONOTONIC);
	bc_setup(&e, "bench_report", T0_S);
	chain_contracts(&e, n);
	if (!mkdtemp(dir) || (rc = store_open(dir, 0, &s)))
		die("store", errno ? -errno : -EIO);
	agent_store(s, n);
	printf("setup: %zu contracts on chain and in the store in %.1f s\n", n, clk_seconds(CLOCK_MONOTONIC) - t);

	struct rep_deps deps = {.store = s, .meta = e.m, .usage = usage};
	if ((rc = rep_new(NULL, &deps, &r)))
		die("rep_new", rc);
	int64_t now_ms = (int64_t)(T0_S + 3600) * 1000;
	e.ctx.now_ms = (uint64_t)now_ms + 6000; /* the including block, a little later */
	double c0 = cpu(), w0 = clk_seconds(CLOCK_MONOTONIC);
	rc = rep_cycle(r, now_ms);
	double cq = cpu() - c0, wq = clk_seconds(CLOCK_MONOTONIC) - w0;
	rep_stats(r, &st);
	if (rc || !st.queued)
		die("rep_cycle", rc ? rc : -EIO);
	struct rep_limits lim;
	rep_limits(e.m, NULL, &lim);
	size_t min_xt = (n + lim.max_records - 1) / lim.max_records;

	size_t nxt, nfail;
	double apply_s;
	uint32_t ev0 = e.ctx.nevents;
	chain_apply(&e, s, &nxt, &nfail, &apply_s);
	uint32_t events = e.ctx.nevents - ev0;

	c0 = cpu();
	w0 = clk_seconds(CLOCK_MONOTONIC);
	rc = rep_cycle(r, now_ms + 1000);
	double cs = cpu() - c0, ws = clk_seconds(CLOCK_MONOTONIC) - w0;
	rep_stats(r, &st);
	if (rc || st.resolved_ok != n)
		die("settle", rc ? rc : -EIO);

	/* The next cycle, an hour later: every contract has progress now, so
	 * this is the steady state (rows updated rather than inserted). */
	int64_t next_ms = rep_next_ms(r);
	c0 = cpu();
	w0 = clk_seconds(CLOCK_MONOTONIC);
	rc = rep_cycle(r, next_ms);
	double c2 = cpu() - c0, w2 = clk_seconds(CLOCK_MONOTONIC) - w0;
	rep_stats(r, &st);
	if (rc || !st.queued || st.records != n)
		die("second cycle", rc ? rc : -EIO);

	double fsign, fverify, fenc = floor_encode(n);
	floor_sig(&e.charlie, &fsign, &fverify);

	printf("agent rep_cycle (queue %zu records): cpu %.1f ms, wall %.1f ms\n", n, cq * 1e3,
	       wq * 1e3);
	printf("agent rep_cycle (settle):            cpu %.1f ms, wall %.1f ms\n", cs * 1e3,
	       ws * 1e3);
	printf("agent rep_cycle (next cycle, queue): cpu %.1f ms, wall %.1f ms\n", c2 * 1e3,
	       w2 * 1e3);
	printf("extrinsics: %zu add_reports (minimum for %zu records/call: %zu)\n", nxt,
	       lim.max_records, min_xt);
	printf("chain apply (devchain runtime, in-process): %.1f ms for %zu extrinsics, "
	       "%zu failed, %u events\n",
	       apply_s * 1e3, nxt, nfail, events);
	printf("floor: SCALE-encode %zu records bare %.2f ms; ed25519 sign %.1f us, verify %.1f us\n",
	       n, fenc * 1e3, fsign * 1e6, fverify * 1e6);
	printf("cycle cpu / floor: first %.1fx, next %.1fx (aim <= 20x)\n", cq / fenc, c2 / fenc);
	tfchain_count(n);

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
