/*
 * Billing of node contracts from the node's consumption reports
 * (add_reports) and the grace period of contracts whose twin cannot pay.
 * The arithmetic is billing.c's; docs/billing.md describes the whole flow.
 */
#include "devchain/pallet_tfgrid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/zerr.h"
#include "devchain/billing.h"
#include "devchain/tfgrid_store.h"
#include "devchain/devchain_int.h"

#define P DEV_SC_PALLET

/* What settling a contract needs besides the contract itself. */
struct payer {
	uint8_t user[32];   /* the contract twin's account */
	uint8_t farmer[32]; /* the farm twin's account */
	uint32_t tft_price_musd;
};

static int account_of_twin(struct dev_ctx *ctx, uint32_t twin_id, uint8_t out[32])
{
	struct dev_twin t;
	int rc = dev_twin_get(ctx, twin_id, &t);
	if (rc == 0)
		memcpy(out, t.account_id, 32);
	return rc;
}

/* Resolves who pays whom for contract c on node n of farm f. */
static int payer_for(struct dev_ctx *ctx, const struct dev_contract *c, const struct dev_farm *f,
		     struct payer *p)
{
	TRY(dev_get_u32(ctx, P, "TftPrice", NULL, 0, &p->tft_price_musd));
	if (p->tft_price_musd == 0)
		return SC_ERR(SC_ERR_TFT_PRICE_VALUE_ERROR);
	TRY(account_of_twin(ctx, c->twin_id, p->user));
	return account_of_twin(ctx, f->twin_id, p->farmer);
}

static int emit_grace(struct dev_ctx *ctx, uint8_t ev, const struct dev_contract *c)
{
	struct zbuf b;
	int rc;

	zbuf_init(&b, 0);
	rc = scale_put_u64(&b, c->contract_id);
	if (rc == 0)
		rc = scale_put_u32(&b, c->node_id);
	if (rc == 0)
		rc = scale_put_u32(&b, c->twin_id);
	if (rc == 0 && ev == SC_EV_CONTRACT_GRACE_PERIOD_STARTED)
		rc = scale_put_u64(&b, c->grace_block);
	return dev_emit_encoded(ctx, DEV_SC_INDEX, ev, &b, rc);
}

/* Appends a bill to ContractBillHistory, dropping the oldest beyond
 * DEV_BILL_HISTORY_MAX. */
static int history_append(struct dev_ctx *ctx, const struct dev_contract_bill *bill)
{
	struct zbuf key, old, out;
	struct scale_rd r;
	uint8_t k[8];
	size_t n = 0, skip = 0;
	int rc;

	dev_le64(k, bill->contract_id);
	zbuf_init(&key, DEV_KEY_MAX);
	zbuf_init(&old, DEV_VALUE_MAX);
	zbuf_init(&out, DEV_VALUE_MAX);
	if ((rc = dev_key(P, "ContractBillHistory", k, 8, NULL, 0, &key)))
		goto out;
	rc = dev_storage_get(ctx, key.data, key.len, &old);
	scale_rd_init(&r, old.data, old.len);
	if (rc == 0)
		rc = scale_get_len(&r, DEV_BILL_HISTORY_MAX, 33, &n);
	else if (rc == ZE_ABSENT)
		rc = 0; /* the contract's first bill */
	if (rc)
		goto out;
	if (n >= DEV_BILL_HISTORY_MAX)
		skip = n - DEV_BILL_HISTORY_MAX + 1;
	if ((rc = scale_put_compact(&out, n - skip + 1)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct dev_contract_bill cb;
		if ((rc = dev_contract_bill_decode(&r, &cb)))
			goto out;
		if (i >= skip && (rc = dev_contract_bill_encode(&cb, &out)))
			goto out;
	}
	if ((rc = dev_contract_bill_encode(bill, &out)))
		goto out;
	rc = dev_storage_put(ctx, key.data, key.len, out.data, out.len);
out:
	zbuf_free(&key);
	zbuf_free(&old);
	zbuf_free(&out);
	return rc;
}

/*
 * Tries to collect the contract's unbilled amount. Paid: the amount moves
 * from the user to the farmer (ContractBilled), a contract in grace returns
 * to Deployed. Not paid: a Deployed contract enters its grace period. The
 * caller stores c and info afterwards; *changed says whether c changed.
 */
static int settle(struct dev_ctx *ctx, struct dev_contract *c, struct dev_billing_info *info,
		  const struct payer *p, int *changed)
{
	struct dev_contract_bill bill;
	scale_u128 planck;
	struct zbuf b;
	int rc;

	*changed = 0;
	if (info->amount_unbilled == 0)
		return 0;
	TRY(dev_bill_units_to_planck(info->amount_unbilled, p->tft_price_musd, &planck));
	/* Less than one planck: keep accumulating rather than rounding the
	 * debt away. */
	if (planck == 0)
		return 0;
	rc = dev_balance_transfer(ctx, p->user, p->farmer, planck, 1);
	if (DEV_IS_MODULE_ERR(rc)) {
		if (c->state == DEV_CONTRACT_DEPLOYED) {
			c->state = DEV_CONTRACT_GRACE_PERIOD;
			c->grace_block = dev_block_number(ctx);
			*changed = 1;
			TRY(dev_u64_list_add(ctx, P, "ContractsInGracePeriod", NULL, 0,
					     c->contract_id));
			TRY(emit_grace(ctx, SC_EV_CONTRACT_GRACE_PERIOD_STARTED, c));
		}
		return 0;
	}
	if (rc)
		return rc;

	info->amount_unbilled = 0;
	memset(&bill, 0, sizeof(bill));
	bill.contract_id = c->contract_id;
	bill.timestamp = dev_block_timestamp_ms(ctx) / 1000;
	bill.amount_billed = planck;
	zbuf_init(&b, 0);
	TRY(dev_emit_encoded(ctx, DEV_SC_INDEX, SC_EV_CONTRACT_BILLED, &b,
			     dev_contract_bill_encode(&bill, &b)));
	TRY(history_append(ctx, &bill));
	if (c->state == DEV_CONTRACT_GRACE_PERIOD) {
		c->state = DEV_CONTRACT_DEPLOYED;
		c->grace_block = 0;
		*changed = 1;
		TRY(dev_u64_list_remove(ctx, P, "ContractsInGracePeriod", NULL, 0,
					c->contract_id));
		TRY(emit_grace(ctx, SC_EV_CONTRACT_GRACE_PERIOD_ENDED, c));
	}
	return 0;
}

static int store_settled(struct dev_ctx *ctx, struct dev_contract *c,
			 struct dev_billing_info *info, int changed)
{
	TRY(dev_billing_info_put(ctx, c->contract_id, info));
	if (!changed)
		return 0;
	TRY(dev_contract_put(ctx, c));
	struct zbuf b;
	zbuf_init(&b, 0);
	return dev_emit_encoded(ctx, DEV_SC_INDEX, SC_EV_CONTRACT_UPDATED, &b,
				dev_contract_encode(c, &b));
}

/* ---- add_reports --------------------------------------------------------------- */

struct report_ctx {
	uint32_t node_id;
	struct dev_node node;
	struct dev_farm farm;
	struct dev_pricing_policy policy;
	struct dev_contract c;
};

/* The reporting node, its farm and the farm's pricing policy. */
static int reporter(struct dev_ctx *ctx, struct report_ctx *x)
{
	struct dev_twin t;
	uint8_t tk[4];
	int rc;

	TRY(dev_origin_twin(ctx, SC_ERR(SC_ERR_TWIN_NOT_EXISTS), &t));
	dev_le32(tk, t.id);
	rc = dev_get_u32(ctx, DEV_TFGRID_PALLET, "NodeIdByTwinID", tk, 4, &x->node_id);
	if (rc == 0 && x->node_id != 0)
		rc = dev_node_get(ctx, x->node_id, &x->node);
	if (rc == ZE_ABSENT || (rc == 0 && x->node_id == 0))
		return SC_ERR(SC_ERR_NODE_NOT_EXISTS);
	if (rc)
		return rc;
	rc = dev_farm_get(ctx, x->node.farm_id, &x->farm);
	if (rc == ZE_ABSENT)
		return SC_ERR(SC_ERR_FARM_NOT_EXISTS);
	if (rc)
		return rc;
	rc = dev_pricing_policy_get(ctx, x->farm.pricing_policy_id, &x->policy);
	return rc == ZE_ABSENT ? SC_ERR(SC_ERR_PRICING_POLICY_NOT_EXISTS) : rc;
}

/* Bills one report. Reports for contracts that are gone, not yet deployed,
 * or outside the billable window are skipped (like tfchain, which skips
 * stale reports) so one late report does not fail the node's whole batch. */
static int bill_report(struct dev_ctx *ctx, struct report_ctx *x,
		       const struct dev_consumption *r)
{
	struct dev_contract *c = &x->c;
	struct dev_billing_info info;
	struct dev_bill_usage use;
	struct dev_bill_prices prices;
	struct payer payer;
	uint64_t window, units;
	int rc, changed;

	rc = dev_contract_get(ctx, r->contract_id, c);
	if (rc == ZE_ABSENT)
		return 0;
	if (rc)
		return rc;
	if (c->type != DEV_CONTRACT_NODE || c->node_id != x->node_id)
		return SC_ERR(SC_ERR_NODE_NOT_AUTHORIZED_TO_COMPUTE_REPORT);
	if (c->state != DEV_CONTRACT_DEPLOYED && c->state != DEV_CONTRACT_GRACE_PERIOD)
		return 0;
	rc = dev_billing_info_get(ctx, c->contract_id, &info);
	if (rc == ZE_ABSENT)
		return 0;
	if (rc)
		return rc;
	rc = dev_bill_report_window(info.last_updated, r->timestamp,
				    dev_block_timestamp_ms(ctx) / 1000, &window);
	if (rc == ZE_STATE || rc == ZE_TOOBIG) {
		log_debug("devchain", "contract %llu: report at %llu outside (%llu, now]",
			  (unsigned long long)c->contract_id,
			  (unsigned long long)r->timestamp,
			  (unsigned long long)info.last_updated);
		return 0;
	}
	if (rc)
		return rc;

	prices.su = x->policy.su;
	prices.cu = x->policy.cu;
	prices.nu = x->policy.nu;
	prices.ipu = x->policy.ipu;
	use = (struct dev_bill_usage){.cru = r->cru, .sru = r->sru, .hru = r->hru, .mru = r->mru,
				      .nru = r->nru, .public_ips = c->public_ips,
				      .window = window};
	rc = dev_bill_cost_units(&prices, &use, &units);
	if (rc == -EOVERFLOW || rc == -EINVAL)
		return SC_ERR(SC_ERR_NUM_OVERFLOW);
	if (rc)
		return rc;
	if (units > UINT64_MAX - info.amount_unbilled)
		return SC_ERR(SC_ERR_NUM_OVERFLOW);

	struct zbuf b;
	zbuf_init(&b, 0);
	TRY(dev_emit_encoded(ctx, DEV_SC_INDEX, SC_EV_CONSUMPTION_REPORT_RECEIVED, &b,
			     dev_consumption_encode(r, &b)));
	info.amount_unbilled += units;
	info.last_updated = r->timestamp;
	info.previous_nu_reported = r->nru;
	TRY(payer_for(ctx, c, &x->farm, &payer));
	TRY(settle(ctx, c, &info, &payer, &changed));
	return store_settled(ctx, c, &info, changed);
}

static int add_reports(struct dev_ctx *ctx, struct scale_rd *a, struct report_ctx *x)
{
	size_t n;
	int rc;

	TRY(reporter(ctx, x));
	rc = scale_get_len(a, DEV_REPORTS_MAX, 56, &n);
	if (rc == ZE_TOOBIG)
		return SC_ERR(SC_ERR_TOO_MANY_REPORTS);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct dev_consumption r;
		TRY(dev_consumption_decode(a, &r));
		rc = bill_report(ctx, x, &r);
		dev_contract_clear(&x->c);
		if (rc)
			return rc;
	}
	return 0;
}

int dev_sc_add_reports(struct dev_ctx *ctx, struct scale_rd *args)
{
	struct report_ctx *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	int rc = add_reports(ctx, args, x);
	dev_contract_clear(&x->c);
	free(x);
	return rc;
}

/* ---- Grace period ------------------------------------------------------------- */

/* One contract of ContractsInGracePeriod at the start of a block. */
static int grace_check(struct dev_ctx *ctx, uint64_t id, uint64_t grace_blocks,
		       struct dev_contract *c, struct dev_node *n, struct dev_farm *f)
{
	struct dev_billing_info info;
	struct payer payer;
	int rc, changed;

	rc = dev_contract_get(ctx, id, c);
	if (rc == 0 && c->state != DEV_CONTRACT_GRACE_PERIOD)
		rc = ZE_ABSENT;
	if (rc == ZE_ABSENT)
		return dev_u64_list_remove(ctx, P, "ContractsInGracePeriod", NULL, 0, id);
	if (rc)
		return rc;
	TRY(dev_billing_info_get(ctx, id, &info));
	TRY(dev_node_get(ctx, c->node_id, n));
	TRY(dev_farm_get(ctx, n->farm_id, f));
	TRY(payer_for(ctx, c, f, &payer));
	TRY(settle(ctx, c, &info, &payer, &changed));
	if (c->state == DEV_CONTRACT_DEPLOYED)
		return store_settled(ctx, c, &info, changed);
	if ((uint64_t)dev_block_number(ctx) - c->grace_block >= grace_blocks)
		return dev_sc_remove_contract(ctx, c, DEV_CAUSE_OUT_OF_FUNDS, NULL, 0);
	return 0;
}

int dev_sc_grace_on_initialize(struct dev_ctx *ctx)
{
	struct dev_contract *c = NULL;
	struct dev_node *n = NULL;
	struct dev_farm *f = NULL;
	uint64_t *ids = NULL, grace_blocks;
	size_t nids = 0;
	int rc;

	if ((rc = dev_get_u64_list(ctx, P, "ContractsInGracePeriod", NULL, 0, &ids, &nids)) ||
	    nids == 0)
		return rc;
	if ((rc = dev_get_u64(ctx, P, "GracePeriodBlocks", NULL, 0, &grace_blocks)))
		goto out;
	if (grace_blocks == 0)
		grace_blocks = DEV_DEFAULT_GRACE_PERIOD_BLOCKS;
	c = calloc(1, sizeof(*c));
	n = malloc(sizeof(*n));
	f = malloc(sizeof(*f));
	if (!c || !n || !f) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nids && rc == 0; i++) {
		rc = grace_check(ctx, ids[i], grace_blocks, c, n, f);
		dev_contract_clear(c);
	}
out:
	free(ids);
	free(c);
	free(n);
	free(f);
	return rc;
}
