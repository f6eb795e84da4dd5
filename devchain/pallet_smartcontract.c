/*
 * SmartContractModule of tfchain-dev: node contracts and their lifecycle
 * (Created -> Deployed -> GracePeriod -> Deployed / Deleted), with tfchain's
 * storage layout, events and error names. Billing lives in
 * pallet_smartcontract_billing.c, metadata in pallet_smartcontract_meta.c.
 */
#include "devchain/pallet_tfgrid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/jnum.h"
#include "common/zerr.h"
#include "devchain/tfgrid_store.h"
#include "devchain/devchain_int.h"

#define P DEV_SC_PALLET
#define CONTRACT_VERSION 4
#define REJECT_REASON_MAX 1024

static int emit_contract(struct dev_ctx *ctx, uint8_t ev, const struct dev_contract *c)
{
	struct zbuf b;
	zbuf_init(&b, 0);
	return dev_emit_encoded(ctx, DEV_SC_INDEX, ev, &b, dev_contract_encode(c, &b));
}

/* IPsReserved / IPsFreed {contract_id, public_ips}. */
static int emit_ips(struct dev_ctx *ctx, uint8_t ev, const struct dev_contract *c)
{
	struct zbuf b;
	int rc;

	zbuf_init(&b, 0);
	rc = scale_put_u64(&b, c->contract_id);
	if (rc == 0)
		rc = scale_put_compact(&b, c->npublic_ips_list);
	for (size_t i = 0; i < c->npublic_ips_list && rc == 0; i++)
		rc = dev_public_ip_encode(&c->public_ips_list[i], &b);
	return dev_emit_encoded(ctx, DEV_SC_INDEX, ev, &b, rc);
}

/* Reserves n free IPs of the node's farm for contract c (tfchain's
 * _reserve_ip): the farm's entries get the contract id, the contract a
 * copy of them. */
static int reserve_ips(struct dev_ctx *ctx, const struct dev_node *node, struct dev_contract *c)
{
	struct dev_farm *f;
	size_t nfree = 0;
	int rc;

	if (c->public_ips == 0)
		return 0;
	if (!(f = malloc(sizeof(*f))))
		return -ENOMEM;
	rc = dev_farm_get(ctx, node->farm_id, f);
	if (rc == ZE_ABSENT)
		rc = SC_ERR(SC_ERR_FARM_NOT_EXISTS);
	if (rc)
		goto out;
	for (size_t i = 0; i < f->npublic_ips; i++)
		nfree += f->public_ips[i].contract_id == 0;
	if (f->npublic_ips < c->public_ips) {
		rc = SC_ERR(SC_ERR_FARM_HAS_NOT_ENOUGH_PUBLIC_IPS);
		goto out;
	}
	if (nfree < c->public_ips) {
		rc = SC_ERR(SC_ERR_FARM_HAS_NOT_ENOUGH_PUBLIC_IPS_FREE);
		goto out;
	}
	c->npublic_ips_list = 0;
	for (size_t i = 0; i < f->npublic_ips && c->npublic_ips_list < c->public_ips; i++) {
		if (f->public_ips[i].contract_id != 0)
			continue;
		f->public_ips[i].contract_id = c->contract_id;
		c->public_ips_list[c->npublic_ips_list++] = f->public_ips[i];
	}
	if ((rc = dev_farm_put(ctx, f)) == 0)
		rc = emit_ips(ctx, SC_EV_IPS_RESERVED, c);
out:
	free(f);
	return rc;
}

/* Gives the contract's IPs back to the farm. A farm that is gone has
 * nothing to give back to. */
static int free_ips(struct dev_ctx *ctx, const struct dev_contract *c)
{
	struct dev_node *n;
	struct dev_farm *f;
	int rc;

	if (c->npublic_ips_list == 0)
		return 0;
	n = malloc(sizeof(*n));
	f = malloc(sizeof(*f));
	if (!n || !f) {
		rc = -ENOMEM;
		goto out;
	}
	rc = dev_node_get(ctx, c->node_id, n);
	if (rc == 0)
		rc = dev_farm_get(ctx, n->farm_id, f);
	if (rc == 0) {
		for (size_t i = 0; i < f->npublic_ips; i++)
			if (f->public_ips[i].contract_id == c->contract_id)
				f->public_ips[i].contract_id = 0;
		rc = dev_farm_put(ctx, f);
	}
	if (rc == ZE_ABSENT)
		rc = 0;
	if (rc == 0)
		rc = emit_ips(ctx, SC_EV_IPS_FREED, c);
out:
	free(n);
	free(f);
	return rc;
}

int dev_sc_remove_contract(struct dev_ctx *ctx, struct dev_contract *c, uint8_t cause,
			   const uint8_t *reason, size_t reason_len)
{
	uint8_t ck[8], nk[4];
	struct zbuf key, b;
	int rc;

	c->state = DEV_CONTRACT_DELETED;
	c->cause = cause;
	TRY(emit_contract(ctx, SC_EV_CONTRACT_UPDATED, c));
	TRY(free_ips(ctx, c));

	dev_le64(ck, c->contract_id);
	dev_le32(nk, c->node_id);
	TRY(dev_del(ctx, P, "Contracts", ck, 8));
	TRY(dev_del(ctx, P, "ContractBillingInformationByID", ck, 8));
	zbuf_init(&key, DEV_KEY_MAX);
	rc = dev_key(P, "ContractIDByNodeIDAndHash", nk, 4, c->deployment_hash, 32, &key);
	if (rc == 0)
		rc = dev_storage_delete(ctx, key.data, key.len);
	zbuf_free(&key);
	if (rc)
		return rc;
	TRY(dev_u64_list_remove(ctx, P, "ActiveNodeContracts", nk, 4, c->contract_id));
	TRY(dev_u64_list_remove(ctx, P, "ContractsInGracePeriod", NULL, 0, c->contract_id));

	zbuf_init(&b, 0);
	rc = scale_put_u64(&b, c->contract_id);
	if (rc == 0)
		rc = scale_put_u32(&b, c->node_id);
	if (rc == 0)
		rc = scale_put_u32(&b, c->twin_id);
	if (cause == DEV_CAUSE_DEPLOYMENT_FAILED) {
		if (rc == 0)
			rc = scale_put_vec_u8(&b, reason, reason_len);
		return dev_emit_encoded(ctx, DEV_SC_INDEX, SC_EV_CONTRACT_REJECTED, &b, rc);
	}
	return dev_emit_encoded(ctx, DEV_SC_INDEX, SC_EV_NODE_CONTRACT_CANCELED, &b, rc);
}

/* ---- create_node_contract --------------------------------------------------- */

static int create_node_contract(struct dev_ctx *ctx, struct scale_rd *a, struct dev_contract *c,
				struct dev_node *node)
{
	struct dev_twin t;
	struct dev_billing_info info;
	const uint8_t *data;
	size_t len;
	uint32_t max_data;
	uint8_t tag, nk[4], id_le[8];
	struct zbuf key;
	int rc;

	TRY(dev_origin_twin(ctx, SC_ERR(SC_ERR_TWIN_NOT_EXISTS), &t));
	TRY(scale_get_u32(a, &c->node_id));
	TRY(scale_get_bytes(a, c->deployment_hash, 32));
	TRY(scale_get_vec_u8(a, DEV_DEPLOYMENT_DATA_HARD_MAX, &data, &len));
	TRY(scale_get_u32(a, &c->public_ips));
	TRY(scale_get_u8(a, &tag));
	if (tag > 1)
		return ZE_MALFORMED;
	if (tag == 1) {
		TRY(scale_get_u64(a, &c->solution_provider_id));
		/* The devchain has no solution providers to pay. */
		return SC_ERR(SC_ERR_NO_SUCH_SOLUTION_PROVIDER);
	}

	TRY(dev_get_u32(ctx, P, "MaxDeploymentDataLength", NULL, 0, &max_data));
	if (len > (max_data ? max_data : DEV_DEPLOYMENT_DATA_DEFAULT))
		return SC_ERR(SC_ERR_DEPLOYMENT_DATA_TOO_LONG);
	if (c->public_ips > DEV_FARM_IPS_MAX)
		return SC_ERR(SC_ERR_FARM_HAS_NOT_ENOUGH_PUBLIC_IPS);
	rc = dev_node_get(ctx, c->node_id, node);
	if (rc == ZE_ABSENT)
		return SC_ERR(SC_ERR_NODE_NOT_EXISTS);
	if (rc)
		return rc;

	dev_le32(nk, c->node_id);
	zbuf_init(&key, DEV_KEY_MAX);
	rc = dev_key(P, "ContractIDByNodeIDAndHash", nk, 4, c->deployment_hash, 32, &key);
	if (rc == 0 && (rc = dev_storage_exists(ctx, key.data, key.len)) == 1)
		rc = SC_ERR(SC_ERR_CONTRACT_IS_NOT_UNIQUE);
	if (rc)
		goto out;

	if ((rc = dev_next_id64(ctx, P, "ContractID", &c->contract_id)))
		goto out;
	c->version = CONTRACT_VERSION;
	c->state = DEV_CONTRACT_CREATED;
	c->twin_id = t.id;
	c->type = DEV_CONTRACT_NODE;
	if (len) {
		if (!(c->deployment_data = malloc(len))) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(c->deployment_data, data, len);
		c->deployment_data_len = len;
	}
	if ((rc = reserve_ips(ctx, node, c)))
		goto out;
	if ((rc = dev_contract_put(ctx, c)))
		goto out;
	/* Billing starts when the node confirms the deployment; until then
	 * last_updated is the creation time. */
	memset(&info, 0, sizeof(info));
	info.last_updated = dev_block_timestamp_ms(ctx) / 1000;
	if ((rc = dev_billing_info_put(ctx, c->contract_id, &info)))
		goto out;
	dev_le64(id_le, c->contract_id);
	if ((rc = dev_storage_put(ctx, key.data, key.len, id_le, 8)))
		goto out;
	/* A contract id fresh from ContractID cannot be on the node's list. */
	if ((rc = dev_u64_list_add_fresh(ctx, P, "ActiveNodeContracts", nk, 4, c->contract_id)))
		goto out;
	rc = emit_contract(ctx, SC_EV_CONTRACT_CREATED, c);
out:
	zbuf_free(&key);
	return rc;
}

static int call_create_node_contract(struct dev_ctx *ctx, struct scale_rd *a)
{
	struct dev_contract *c = calloc(1, sizeof(*c));
	struct dev_node *n = calloc(1, sizeof(*n));
	int rc = -ENOMEM;

	if (c && n)
		rc = create_node_contract(ctx, a, c, n);
	if (c)
		dev_contract_clear(c);
	free(c);
	free(n);
	return rc;
}

/* ---- Contract access by its twin or its node ----------------------------- */

/* Loads contract `id` (cleared by the caller). */
static int load_contract(struct dev_ctx *ctx, uint64_t id, struct dev_contract *c)
{
	int rc = dev_contract_get(ctx, id, c);
	return rc == ZE_ABSENT ? SC_ERR(SC_ERR_CONTRACT_NOT_EXISTS) : rc;
}

/* The signer must be the twin of the node contract c's node. */
static int check_node_origin(struct dev_ctx *ctx, const struct dev_contract *c, int deny_err)
{
	struct dev_twin t;
	uint8_t tk[4];
	uint32_t node_id;
	int rc;

	TRY(dev_origin_twin(ctx, SC_ERR(SC_ERR_TWIN_NOT_EXISTS), &t));
	dev_le32(tk, t.id);
	rc = dev_get_u32(ctx, DEV_TFGRID_PALLET, "NodeIdByTwinID", tk, 4, &node_id);
	if (rc == ZE_ABSENT || (rc == 0 && node_id == 0))
		return SC_ERR(SC_ERR_NODE_NOT_EXISTS);
	if (rc)
		return rc;
	if (c->type != DEV_CONTRACT_NODE)
		return SC_ERR(SC_ERR_INVALID_CONTRACT_TYPE);
	return node_id == c->node_id ? 0 : SC_ERR(deny_err);
}

static int cancel_contract(struct dev_ctx *ctx, struct scale_rd *a, struct dev_contract *c)
{
	const uint8_t *who = dev_origin(ctx);
	struct dev_twin owner;
	uint64_t id;
	int rc;

	if (!who)
		return DEV_ERR_BAD_ORIGIN;
	TRY(scale_get_u64(a, &id));
	TRY(load_contract(ctx, id, c));
	rc = dev_twin_get(ctx, c->twin_id, &owner);
	if (rc == ZE_ABSENT)
		return SC_ERR(SC_ERR_TWIN_NOT_EXISTS);
	if (rc)
		return rc;
	if (memcmp(owner.account_id, who, 32) != 0)
		return SC_ERR(SC_ERR_TWIN_NOT_AUTHORIZED_TO_CANCEL_CONTRACT);
	return dev_sc_remove_contract(ctx, c, DEV_CAUSE_CANCELED_BY_USER, NULL, 0);
}

static int set_contract_deployed(struct dev_ctx *ctx, struct scale_rd *a, struct dev_contract *c)
{
	struct dev_billing_info info;
	struct zbuf b;
	uint64_t id;
	int rc;

	TRY(scale_get_u64(a, &id));
	TRY(load_contract(ctx, id, c));
	TRY(check_node_origin(ctx, c, SC_ERR_NODE_NOT_AUTHORIZED_TO_DEPLOY_CONTRACT));
	if (c->state != DEV_CONTRACT_CREATED)
		return SC_ERR(SC_ERR_CONTRACT_WRONG_STATE);
	c->state = DEV_CONTRACT_DEPLOYED;
	TRY(dev_contract_put(ctx, c));
	/* The user pays from the moment the workloads run. */
	rc = dev_billing_info_get(ctx, id, &info);
	if (rc == ZE_ABSENT) {
		memset(&info, 0, sizeof(info));
		rc = 0;
	}
	if (rc)
		return rc;
	info.last_updated = dev_block_timestamp_ms(ctx) / 1000;
	TRY(dev_billing_info_put(ctx, id, &info));

	zbuf_init(&b, 0);
	rc = scale_put_u64(&b, id);
	if (rc == 0)
		rc = scale_put_bytes(&b, dev_origin(ctx), 32);
	return dev_emit_encoded(ctx, DEV_SC_INDEX, SC_EV_CONTRACT_DEPLOYED, &b, rc);
}

static int reject_contract(struct dev_ctx *ctx, struct scale_rd *a, struct dev_contract *c)
{
	const uint8_t *reason;
	size_t len;
	uint64_t id;

	TRY(scale_get_u64(a, &id));
	TRY(scale_get_vec_u8(a, REJECT_REASON_MAX, &reason, &len));
	TRY(load_contract(ctx, id, c));
	TRY(check_node_origin(ctx, c, SC_ERR_NODE_NOT_AUTHORIZED_TO_DEPLOY_CONTRACT));
	if (c->state != DEV_CONTRACT_CREATED)
		return SC_ERR(SC_ERR_CONTRACT_WRONG_STATE);
	return dev_sc_remove_contract(ctx, c, DEV_CAUSE_DEPLOYMENT_FAILED, reason, len);
}

/* The three calls above share one wrapper that owns the contract. */
#define CONTRACT_CALL(name)                                             \
	static int call_##name(struct dev_ctx *ctx, struct scale_rd *a) \
	{                                                               \
		struct dev_contract *c = calloc(1, sizeof(*c));         \
		if (!c)                                                 \
			return -ENOMEM;                                 \
		int rc = name(ctx, a, c);                               \
		dev_contract_clear(c);                                  \
		free(c);                                                \
		return rc;                                              \
	}

CONTRACT_CALL(cancel_contract)
CONTRACT_CALL(set_contract_deployed)
CONTRACT_CALL(reject_contract)

/* ---- Genesis ------------------------------------------------------------------ */

static int json_uint(const cJSON *sec, const char *name, uint64_t def, uint64_t max,
		     uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(sec, name);
	if (!v) {
		*out = def;
		return 0;
	}
	return jnum_u64(v, max, out) < 0 ? ZE_CONFIG : 0;
}

/*
 * Section "SmartContractModule" (every member optional):
 *   "tft_price_musd": 50          TFT price in mUSD used to convert bills
 *   "grace_period_blocks": 100    blocks a contract may stay unpaid
 *   "max_deployment_data": 16384  bytes of deployment_data accepted
 */
static int sc_genesis(struct dev_ctx *ctx, const cJSON *sec)
{
	uint64_t price, grace, maxdata;

	TRY(json_uint(sec, "tft_price_musd", DEV_DEFAULT_TFT_PRICE_MUSD, UINT32_MAX, &price));
	TRY(json_uint(sec, "grace_period_blocks", DEV_DEFAULT_GRACE_PERIOD_BLOCKS, UINT32_MAX,
		      &grace));
	TRY(json_uint(sec, "max_deployment_data", DEV_DEPLOYMENT_DATA_DEFAULT,
		      DEV_DEPLOYMENT_DATA_HARD_MAX, &maxdata));
	if (price == 0 || grace == 0 || maxdata == 0)
		return ZE_CONFIG;
	TRY(dev_put_u32(ctx, P, "TftPrice", NULL, 0, (uint32_t)price));
	TRY(dev_put_u64(ctx, P, "GracePeriodBlocks", NULL, 0, grace));
	return dev_put_u32(ctx, P, "MaxDeploymentDataLength", NULL, 0, (uint32_t)maxdata);
}

static const struct dev_call sc_calls[] = {
	{"create_node_contract", 0, 0, call_create_node_contract},
	{"cancel_contract", 2, 0, call_cancel_contract},
	{"add_reports", 3, DEV_CALL_FREE, dev_sc_add_reports},
	{"set_contract_deployed", 19, 0, call_set_contract_deployed},
	{"reject_contract", 20, 0, call_reject_contract},
};

const struct dev_pallet dev_pallet_smartcontract = {
	.name = DEV_SC_PALLET,
	.index = DEV_SC_INDEX,
	.calls = sc_calls,
	.ncalls = sizeof(sc_calls) / sizeof(sc_calls[0]),
	.describe = dev_sc_describe,
	.genesis = sc_genesis,
	.on_initialize = dev_sc_grace_on_initialize,
};
