/*
 * The devchain runtime in-process for benchmarks, shared by bench_report.c
 * and bench_devchain_scale.c (a header of static functions: each bench is
 * one program): an in-memory store with the genesis applied, the runtime's
 * metadata, and calls applied as block production applies them, in a call
 * layer of one block context, without signature checks.
 *
 * The chain: twins for alice (user), bob (farmer) and charlie (node), bob's
 * farm 1 and charlie's node 1; contracts are made by alice on node 1 and
 * marked deployed by charlie.
 */
#ifndef ZOS_BENCH_DEVCHAIN_ENV_H
#define ZOS_BENCH_DEVCHAIN_ENV_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "chainclient/meta.h"
#include "chainclient/scale.h"
#include "common/key.h"
#include "common/zerr.h"
#include "devchain/exec.h"
#include "devchain/genesis.h"
#include "devchain/metagen.h"
#include "devchain/store.h"

#define BENCH_GIB (1ull << 30)

struct bench_chain {
	const char *prog; /* for error messages */
	struct dev_store *st;
	struct dev_params params;
	struct dev_ctx ctx;
	struct dev_meta *dm;
	struct meta *m;
	struct zkey alice, bob, charlie;
};

static void bc_die(const struct bench_chain *e, const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s\n", e->prog, what, zerr_str(rc));
	exit(1);
}

/* Applies call bytes (pallet index ++ call index ++ args) as `who` in a
 * call layer of the block context, as block production does. */
static int bc_apply(struct bench_chain *e, const struct zkey *who, const uint8_t *call,
                    size_t len)
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

/* Encodes pallet.call(named args) with the runtime's metadata, as the
 * agent's submitter does, and applies it. Takes named. */
static int bc_call_named(struct bench_chain *e, const struct zkey *who, const char *pallet,
                         const char *call, cJSON *named)
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
		rc = bc_apply(e, who, b.data, b.len);
	if (rc)
		fprintf(stderr, "%s.%s: %d (%s)\n", pallet, call, rc, which ? which : "");
	cJSON_Delete(ordered);
	cJSON_Delete(named);
	zbuf_free(&b);
	return rc;
}

static int bc_in_table(const struct dev_pallet *p)
{
	for (size_t i = 0; i < dev_npallets; i++)
		if (dev_pallets[i] == p)
			return 1;
	return 0;
}

/* The chain at block 1, time t0_s: genesis, twins, farm and node. */
static void bc_setup(struct bench_chain *e, const char *prog, uint64_t t0_s)
{
	cJSON *g = NULL;
	size_t mlen;
	int rc;

	memset(e, 0, sizeof *e);
	e->prog = prog;
	if ((rc = dev_store_open(":memory:", &e->st)) || (rc = dev_genesis_load(NULL, &g)))
		bc_die(e, "devchain", rc);
	e->params = (struct dev_params){DEV_EXISTENTIAL_DEPOSIT, DEV_FEE_BASE, DEV_FEE_PER_BYTE};
	dev_ctx_init(&e->ctx, e->st, 0, 0, &e->params);
	if ((rc = dev_genesis_apply(&e->ctx, g)))
		bc_die(e, "genesis", rc);
	const struct dev_pallet *mine[] = {&dev_pallet_tfgrid, &dev_pallet_smartcontract};
	for (size_t i = 0; i < 2; i++) {
		if (bc_in_table(mine[i]))
			continue;
		dev_ctx_call_begin(&e->ctx);
		if ((rc = mine[i]->genesis(&e->ctx, cJSON_GetObjectItem(g, mine[i]->name))) ||
		    (rc = dev_ctx_call_commit(&e->ctx)))
			bc_die(e, "pallet genesis", rc);
	}
	cJSON_Delete(g);
	if ((rc = dev_meta_build(dev_pallets, dev_npallets, &e->dm)))
		bc_die(e, "metadata", rc);
	const uint8_t *mb = dev_meta_bytes(e->dm, &mlen);
	if ((rc = meta_decode(mb, mlen, &e->m)))
		bc_die(e, "metadata decode", rc);
	if ((rc = key_dev("alice", &e->alice)) || (rc = key_dev("bob", &e->bob)) ||
	    (rc = key_dev("charlie", &e->charlie)))
		bc_die(e, "keys", rc);
	e->ctx.number = 1;
	e->ctx.now_ms = t0_s * 1000;
	struct grid_node_info ni = {.farm_id = 1,
	                            .hru = 4000 * BENCH_GIB,
	                            .sru = 100000 * BENCH_GIB,
	                            .cru = 100000,
	                            .mru = 100000 * BENCH_GIB,
	                            .city = "Ghent",
	                            .country = "Belgium",
	                            .latitude = "51.05",
	                            .longitude = "3.71"};
	if ((rc = bc_call_named(e, &e->alice, "TfgridModule", "create_twin",
	                        grid_args_create_twin("tcp://127.0.0.1:1", NULL, 0))) ||
	    (rc = bc_call_named(e, &e->bob, "TfgridModule", "create_twin",
	                        grid_args_create_twin(NULL, NULL, 0))) ||
	    (rc = bc_call_named(e, &e->charlie, "TfgridModule", "create_twin",
	                        grid_args_create_twin("tcp://127.0.0.1:2", NULL, 0))) ||
	    (rc = bc_call_named(e, &e->bob, "TfgridModule", "create_farm",
	                        grid_args_create_farm("benchfarm"))) ||
	    (rc = bc_call_named(e, &e->charlie, "TfgridModule", "create_node",
	                        grid_args_create_node(&ni))))
		bc_die(e, "grid setup", rc);
}

/* Contract i on node 1, created and marked deployed. */
static void bc_contract(struct bench_chain *e, size_t i)
{
	uint8_t hash[32] = {0}, data[1] = {1};

	memcpy(hash, &i, sizeof i);
	int rc = bc_call_named(e, &e->alice, "SmartContractModule", "create_node_contract",
	                       grid_args_create_node_contract(1, hash, data, 1, 0));
	if (rc == 0)
		rc = bc_call_named(e, &e->charlie, "SmartContractModule", "set_contract_deployed",
		                   grid_args_contract_id(i));
	if (rc)
		bc_die(e, "contracts", rc);
}

static void bc_free(struct bench_chain *e)
{
	meta_free(e->m);
	dev_meta_free(e->dm);
	dev_ctx_free(&e->ctx);
	dev_store_close(e->st);
}

#endif
