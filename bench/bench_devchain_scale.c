/*
 * tfchain-dev's runtime at scale: the cost of one capacity report and of
 * one contract creation while a block already holds thousands of changes,
 * at 1,000 and at 50,000 of them. The devchain runtime runs in-process in
 * one block context (as bench_report applies reports), so the block's
 * change set grows with every call: a per-call cost that grows with it is
 * what this measures. The floor for each figure is the same operation at
 * the 1,000 mark, measured in the same run; the aim is the 50,000 figure
 * within 1.5 times of it. Times are the thread's CPU time (other processes
 * on a shared machine do not count), each figure the median of ten
 * batches of a tenth of the window.
 *
 *   bench_devchain_scale [contracts (50000)] [window (1000)]
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "chainclient/meta.h"
#include "chainclient/scale.h"
#include "common/key.h"
#include "common/log.h"
#include "common/zerr.h"
#include "devchain/exec.h"
#include "devchain/genesis.h"
#include "devchain/metagen.h"
#include "devchain/tfgrid_store.h"
#include "devchain/store.h"

#define T0_S 1700000000ull
#define GIB (1ull << 30)

struct env {
	struct dev_store *st;
	struct dev_params params;
	struct dev_ctx ctx;
	struct dev_meta *dm;
	struct meta *m;
	struct zkey alice, bob, charlie;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_devchain_scale: %s: %s\n", what, zerr_str(rc));
	exit(1);
}

/* Applies call bytes (pallet index ++ call index ++ args) as `who` in a
 * call layer of the block context, as block production does. */
static int apply(struct env *e, const struct zkey *who, const uint8_t *call, size_t len)
{
	const struct dev_call *fn = NULL;
	struct scale_rd rd;
	int rc;

	if (len < 2 || (rc = dev_meta_check_call(e->dm, call, len)) != 0)
		return len < 2 ? ZE_MALFORMED : rc;
	for (size_t i = 0; i < dev_npallets && !fn; i++)
		for (size_t j = 0; dev_pallets[i]->index == call[0] && j < dev_pallets[i]->ncalls;
		     j++)
			if (dev_pallets[i]->calls[j].index == call[1])
				fn = &dev_pallets[i]->calls[j];
	if (!fn)
		return ZE_UNSUPPORTED;
	scale_rd_init(&rd, call + 2, len - 2);
	e->ctx.phase = DEV_PHASE_APPLY;
	dev_ctx_call_begin(&e->ctx);
	e->ctx.origin = who->pk;
	rc = fn->fn(&e->ctx, &rd);
	e->ctx.origin = NULL;
	if (rc)
		dev_ctx_call_rollback(&e->ctx);
	else
		rc = dev_ctx_call_commit(&e->ctx);
	return rc;
}

/* Encodes pallet.call(named args) with the devchain's metadata and applies
 * it. Takes named. */
static int call_named(struct env *e, const struct zkey *who, const char *pallet, const char *call,
                      cJSON *named)
{
	cJSON *ordered = NULL;
	const char *which = NULL;
	struct zbuf b;
	int rc;

	zbuf_init(&b, 0);
	if (!named)
		return -ENOMEM;
	rc = chain_call_args(e->m, pallet, call, named, &ordered, &which);
	if (rc == 0)
		rc = meta_encode_call(e->m, pallet, call, ordered, &b);
	if (rc == 0)
		rc = apply(e, who, b.data, b.len);
	if (rc)
		fprintf(stderr, "%s.%s: %d (%s)\n", pallet, call, rc, which ? which : "");
	cJSON_Delete(ordered);
	cJSON_Delete(named);
	zbuf_free(&b);
	return rc;
}

static int in_table(const struct dev_pallet *p)
{
	for (size_t i = 0; i < dev_npallets; i++)
		if (dev_pallets[i] == p)
			return 1;
	return 0;
}

/* Genesis, twins for alice (user) and charlie (node), bob's farm, node 1. */
static void chain_setup(struct env *e)
{
	cJSON *g = NULL;
	size_t mlen;
	int rc;

	if ((rc = dev_store_open(":memory:", &e->st)) || (rc = dev_genesis_load(NULL, &g)))
		die("devchain", rc);
	e->params = (struct dev_params){DEV_EXISTENTIAL_DEPOSIT, DEV_FEE_BASE, DEV_FEE_PER_BYTE};
	dev_ctx_init(&e->ctx, e->st, 0, 0, &e->params);
	if ((rc = dev_genesis_apply(&e->ctx, g)))
		die("genesis", rc);
	const struct dev_pallet *mine[] = {&dev_pallet_tfgrid, &dev_pallet_smartcontract};
	for (size_t i = 0; i < 2; i++) {
		if (in_table(mine[i]))
			continue;
		dev_ctx_call_begin(&e->ctx);
		if ((rc = mine[i]->genesis(&e->ctx, cJSON_GetObjectItem(g, mine[i]->name))) ||
		    (rc = dev_ctx_call_commit(&e->ctx)))
			die("pallet genesis", rc);
	}
	cJSON_Delete(g);
	if ((rc = dev_meta_build(dev_pallets, dev_npallets, &e->dm)))
		die("metadata", rc);
	const uint8_t *mb = dev_meta_bytes(e->dm, &mlen);
	if ((rc = meta_decode(mb, mlen, &e->m)))
		die("metadata decode", rc);
	if ((rc = key_dev("alice", &e->alice)) || (rc = key_dev("bob", &e->bob)) ||
	    (rc = key_dev("charlie", &e->charlie)))
		die("keys", rc);
	e->ctx.number = 1;
	e->ctx.now_ms = T0_S * 1000;
	struct grid_node_info ni = {.farm_id = 1,
	                            .hru = 4000 * GIB,
	                            .sru = 100000 * GIB,
	                            .cru = 100000,
	                            .mru = 100000 * GIB,
	                            .city = "Ghent",
	                            .country = "Belgium",
	                            .latitude = "51.05",
	                            .longitude = "3.71"};
	if ((rc = call_named(e, &e->alice, "TfgridModule", "create_twin",
	                     grid_args_create_twin("tcp://127.0.0.1:1", NULL, 0))) ||
	    (rc = call_named(e, &e->bob, "TfgridModule", "create_twin",
	                     grid_args_create_twin(NULL, NULL, 0))) ||
	    (rc = call_named(e, &e->charlie, "TfgridModule", "create_twin",
	                     grid_args_create_twin("tcp://127.0.0.1:2", NULL, 0))) ||
	    (rc = call_named(e, &e->bob, "TfgridModule", "create_farm",
	                     grid_args_create_farm("benchfarm"))) ||
	    (rc = call_named(e, &e->charlie, "TfgridModule", "create_node",
	                     grid_args_create_node(&ni))))
		die("grid setup", rc);
}

/* Contract i on node 1, created and marked deployed. */
static void contract(struct env *e, size_t i)
{
	uint8_t hash[32] = {0}, data[1] = {1};

	memcpy(hash, &i, sizeof i);
	int rc = call_named(e, &e->alice, "SmartContractModule", "create_node_contract",
	                    grid_args_create_node_contract(1, hash, data, 1, 0));
	if (rc == 0)
		rc = call_named(e, &e->charlie, "SmartContractModule", "set_contract_deployed",
		                grid_args_contract_id(i));
	if (rc)
		die("contracts", rc);
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median10(double *v)
{
	qsort(v, 10, sizeof(*v), dbl_cmp);
	return (v[4] + v[5]) / 2;
}

/* Creates contracts first..first+w-1 in ten batches; the median per contract. */
static double contracts_timed(struct env *e, size_t first, size_t w)
{
	double t[10];
	size_t b = w / 10;

	for (int k = 0; k < 10; k++) {
		double t0 = mono();
		for (size_t i = 0; i < b; i++)
			contract(e, first + (size_t)k * b + i);
		t[k] = (mono() - t0) / (double)b;
	}
	return median10(t);
}

/* add_reports for contracts first..first+n-1, applied as the node. */
static double reports(struct env *e, size_t first, size_t n)
{
	struct zbuf b;
	int rc;

	zbuf_init(&b, 0);
	rc = scale_put_u8(&b, DEV_SC_INDEX);
	if (!rc)
		rc = scale_put_u8(&b, 3); /* add_reports */
	if (!rc)
		rc = scale_put_compact(&b, n);
	for (size_t i = 0; i < n && !rc; i++) {
		uint64_t f[7] = {first + i, T0_S + 3600, 1, 10 * GIB, 0, 2 * GIB, 1000};
		for (int k = 0; k < 7 && !rc; k++)
			rc = scale_put_u64(&b, f[k]);
	}
	if (rc)
		die("encoding", rc);
	double t = mono();
	rc = apply(e, &e->charlie, b.data, b.len);
	t = mono() - t;
	if (rc)
		die("add_reports", rc);
	zbuf_free(&b);
	return t;
}

/* Reports for first..first+w-1 in ten calls; the median per report. */
static double reports_timed(struct env *e, size_t first, size_t w)
{
	double t[10];
	size_t b = w / 10;

	for (int k = 0; k < 10; k++)
		t[k] = reports(e, first + (size_t)k * b, b) / (double)b;
	return median10(t);
}

/*
 * One chain with n contracts on node 1 and n reports, all in one block:
 * the median cost of the last w creations and of the last w reports.
 */
static void run(size_t n, size_t w, double *create, double *report, size_t *changes)
{
	struct env e;

	memset(&e, 0, sizeof e);
	chain_setup(&e);
	for (size_t i = 1; i <= n - w; i++)
		contract(&e, i);
	*create = contracts_timed(&e, n - w + 1, w);
	/* Reports of an hour, included a little later. */
	e.ctx.now_ms = (T0_S + 3600) * 1000 + 6000;
	for (size_t i = 1; i + w - 1 <= n - w; i += w)
		reports(&e, i, w);
	*report = reports_timed(&e, n - w + 1, w);
	*changes = e.ctx.block.n;
	meta_free(e.m);
	dev_meta_free(e.dm);
	dev_ctx_free(&e.ctx);
	dev_store_close(e.st);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 50000;
	size_t w = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
	double c_small, r_small, c_big, r_big;
	size_t ch_small, ch_big;

	if (n < 2 * w || w < 10 || w % 10 || w > 10240) {
		fprintf(stderr, "usage: bench_devchain_scale [contracts >= 2*window] "
		                "[window, a multiple of 10 up to 10240]\n");
		return 2;
	}
	log_setup(LOG_LVL_WARN, LOG_TARGET_STDERR, "bench_devchain_scale");
	if (sodium_init() < 0)
		die("sodium", -ENOMEM);
	/* The floor: a chain of w contracts and w reports. */
	run(w, w / 2 - w / 2 % 10, &c_small, &r_small, &ch_small);
	run(n, w, &c_big, &r_big, &ch_big);
	printf("tfchain-dev at scale (one block; thread CPU time, median of 10 batches)\n");
	printf("  create+deploy a contract: %7.1f us with %zu on the node (floor), %7.1f us "
	       "with %zu: %.2fx\n",
	       c_small * 1e6, w, c_big * 1e6, n, c_big / c_small);
	printf("  apply one report:         %7.1f us at %zu reports (floor), %7.1f us at %zu: "
	       "%.2fx (aim <= 1.5x)\n",
	       r_small * 1e6, w, r_big * 1e6, n, r_big / r_small);
	printf("  block changes at the end: %zu and %zu\n", ch_small, ch_big);
	return 0;
}
