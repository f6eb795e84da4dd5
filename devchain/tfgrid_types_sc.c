/* SCALE codecs of SmartContractModule's structs (see tfgrid_types.h). */
#include "devchain/tfgrid_types.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"
#include "devchain/devchain_int.h"

void dev_contract_clear(struct dev_contract *c)
{
	free(c->deployment_data);
	memset(c, 0, sizeof(*c));
}

int dev_contract_state_encode(const struct dev_contract *c, struct zbuf *b)
{
	TRY(scale_put_u8(b, c->state));
	if (c->state == DEV_CONTRACT_DELETED)
		return scale_put_u8(b, c->cause);
	if (c->state == DEV_CONTRACT_GRACE_PERIOD)
		return scale_put_u64(b, c->grace_block);
	return 0;
}

static int state_decode(struct scale_rd *r, struct dev_contract *c)
{
	TRY(scale_get_u8(r, &c->state));
	switch (c->state) {
	case DEV_CONTRACT_CREATED:
	case DEV_CONTRACT_DEPLOYED:
		return 0;
	case DEV_CONTRACT_DELETED:
		TRY(scale_get_u8(r, &c->cause));
		return c->cause <= DEV_CAUSE_DEPLOYMENT_FAILED ? 0 : ZE_MALFORMED;
	case DEV_CONTRACT_GRACE_PERIOD:
		return scale_get_u64(r, &c->grace_block);
	default:
		return ZE_MALFORMED;
	}
}

int dev_contract_encode(const struct dev_contract *c, struct zbuf *b)
{
	TRY(scale_put_u32(b, c->version));
	TRY(dev_contract_state_encode(c, b));
	TRY(scale_put_u64(b, c->contract_id));
	TRY(scale_put_u32(b, c->twin_id));
	TRY(scale_put_u8(b, c->type));
	switch (c->type) {
	case DEV_CONTRACT_NODE:
		TRY(scale_put_u32(b, c->node_id));
		TRY(scale_put_bytes(b, c->deployment_hash, 32));
		TRY(scale_put_vec_u8(b, c->deployment_data, c->deployment_data_len));
		TRY(scale_put_u32(b, c->public_ips));
		TRY(scale_put_compact(b, c->npublic_ips_list));
		for (size_t i = 0; i < c->npublic_ips_list; i++)
			TRY(dev_public_ip_encode(&c->public_ips_list[i], b));
		break;
	case DEV_CONTRACT_NAME:
		TRY(dev_str_encode(&c->name, b));
		break;
	case DEV_CONTRACT_RENT:
		TRY(scale_put_u32(b, c->node_id));
		break;
	default:
		return -EINVAL;
	}
	TRY(scale_put_u8(b, c->has_solution_provider ? 1 : 0));
	return c->has_solution_provider ? scale_put_u64(b, c->solution_provider_id) : 0;
}

static int node_contract_decode(struct scale_rd *r, struct dev_contract *c)
{
	const uint8_t *p;
	size_t n;
	uint64_t nips;

	TRY(scale_get_u32(r, &c->node_id));
	TRY(scale_get_bytes(r, c->deployment_hash, 32));
	TRY(scale_get_vec_u8(r, DEV_DEPLOYMENT_DATA_HARD_MAX, &p, &n));
	if (n) {
		c->deployment_data = malloc(n);
		if (!c->deployment_data)
			return -ENOMEM;
		memcpy(c->deployment_data, p, n);
		c->deployment_data_len = n;
	}
	TRY(scale_get_u32(r, &c->public_ips));
	TRY(scale_get_compact(r, &nips));
	if (nips > DEV_FARM_IPS_MAX)
		return ZE_TOOBIG;
	c->npublic_ips_list = (size_t)nips;
	for (size_t i = 0; i < c->npublic_ips_list; i++)
		TRY(dev_public_ip_decode(r, &c->public_ips_list[i]));
	return 0;
}

static int contract_decode(struct scale_rd *r, struct dev_contract *c)
{
	uint8_t tag;

	TRY(scale_get_u32(r, &c->version));
	TRY(state_decode(r, c));
	TRY(scale_get_u64(r, &c->contract_id));
	TRY(scale_get_u32(r, &c->twin_id));
	TRY(scale_get_u8(r, &c->type));
	switch (c->type) {
	case DEV_CONTRACT_NODE:
		TRY(node_contract_decode(r, c));
		break;
	case DEV_CONTRACT_NAME:
		TRY(dev_str_decode(r, &c->name));
		break;
	case DEV_CONTRACT_RENT:
		TRY(scale_get_u32(r, &c->node_id));
		break;
	default:
		return ZE_MALFORMED;
	}
	TRY(scale_get_u8(r, &tag));
	if (tag > 1)
		return ZE_MALFORMED;
	c->has_solution_provider = tag;
	return tag ? scale_get_u64(r, &c->solution_provider_id) : 0;
}

int dev_contract_decode(struct scale_rd *r, struct dev_contract *c)
{
	memset(c, 0, sizeof(*c));
	int rc = contract_decode(r, c);
	if (rc)
		dev_contract_clear(c);
	return rc;
}

int dev_billing_info_encode(const struct dev_billing_info *i, struct zbuf *b)
{
	TRY(scale_put_u64(b, i->previous_nu_reported));
	TRY(scale_put_u64(b, i->last_updated));
	return scale_put_u64(b, i->amount_unbilled);
}

int dev_billing_info_decode(struct scale_rd *r, struct dev_billing_info *i)
{
	TRY(scale_get_u64(r, &i->previous_nu_reported));
	TRY(scale_get_u64(r, &i->last_updated));
	return scale_get_u64(r, &i->amount_unbilled);
}

int dev_consumption_encode(const struct dev_consumption *c, struct zbuf *b)
{
	TRY(scale_put_u64(b, c->contract_id));
	TRY(scale_put_u64(b, c->timestamp));
	TRY(scale_put_u64(b, c->cru));
	TRY(scale_put_u64(b, c->sru));
	TRY(scale_put_u64(b, c->hru));
	TRY(scale_put_u64(b, c->mru));
	return scale_put_u64(b, c->nru);
}

int dev_consumption_decode(struct scale_rd *r, struct dev_consumption *c)
{
	TRY(scale_get_u64(r, &c->contract_id));
	TRY(scale_get_u64(r, &c->timestamp));
	TRY(scale_get_u64(r, &c->cru));
	TRY(scale_get_u64(r, &c->sru));
	TRY(scale_get_u64(r, &c->hru));
	TRY(scale_get_u64(r, &c->mru));
	return scale_get_u64(r, &c->nru);
}

int dev_contract_bill_encode(const struct dev_contract_bill *cb, struct zbuf *b)
{
	TRY(scale_put_u64(b, cb->contract_id));
	TRY(scale_put_u64(b, cb->timestamp));
	TRY(scale_put_u8(b, cb->discount_level));
	return scale_put_u128(b, cb->amount_billed);
}

int dev_contract_bill_decode(struct scale_rd *r, struct dev_contract_bill *cb)
{
	TRY(scale_get_u64(r, &cb->contract_id));
	TRY(scale_get_u64(r, &cb->timestamp));
	TRY(scale_get_u8(r, &cb->discount_level));
	if (cb->discount_level > 4)
		return ZE_MALFORMED;
	return scale_get_u128(r, &cb->amount_billed);
}
