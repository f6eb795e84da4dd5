/*
 * TfgridModule of tfchain-dev: twins, farms, nodes and pricing policies,
 * with tfchain's storage layout, call indices, events and error names.
 * Validation is tfchain's where the agent depends on it (ownership, unique
 * names, one node per twin) and simpler elsewhere (see docs/billing.md).
 */
#include "devchain/pallet_tfgrid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"
#include "devchain/tfgrid_store.h"
#include "devchain/devchain_int.h"

#define P DEV_TFGRID_PALLET

#define FARM_VERSION 4
#define NODE_VERSION 6
#define PRICING_POLICY_VERSION 2

int dev_origin_twin(struct dev_ctx *ctx, int absent_err, struct dev_twin *t)
{
	const uint8_t *who = dev_origin(ctx);
	uint32_t id;
	int rc;

	if (!who)
		return DEV_ERR_BAD_ORIGIN;
	rc = dev_twin_id_of(ctx, who, &id);
	if (rc == 0)
		rc = dev_twin_get(ctx, id, t);
	return rc == ZE_ABSENT ? absent_err : rc;
}

static int emit_twin(struct dev_ctx *ctx, uint8_t ev, const struct dev_twin *t)
{
	struct zbuf b;
	zbuf_init(&b, 0);
	return dev_emit_encoded(ctx, DEV_TFGRID_INDEX, ev, &b, dev_twin_encode(t, &b));
}

/* ---- Twins ---------------------------------------------------------------- */

/* relay: Option<Vec<u8>> of printable ASCII (one or more RMB addresses);
 * pk: Option<Vec<u8>> holding a 32-byte x25519 key. */
static int twin_args(struct scale_rd *a, struct dev_twin *t)
{
	uint8_t tag;
	const uint8_t *p;
	size_t n;

	TRY(scale_get_u8(a, &tag));
	t->has_relay = tag == 1;
	if (t->has_relay) {
		TRY(scale_get_vec_u8(a, (size_t)1 << 20, &p, &n));
		if (n == 0)
			return TFG_ERR(TFG_ERR_RELAY_TOO_SHORT);
		if (n > DEV_RELAY_MAX)
			return TFG_ERR(TFG_ERR_RELAY_TOO_LONG);
		for (size_t i = 0; i < n; i++)
			if (p[i] < 0x21 || p[i] > 0x7e)
				return TFG_ERR(TFG_ERR_INVALID_RELAY);
		memcpy(t->relay, p, n);
		t->relay_len = (uint16_t)n;
	} else {
		t->relay_len = 0;
	}
	TRY(scale_get_u8(a, &tag));
	t->has_pk = tag == 1;
	if (t->has_pk) {
		TRY(scale_get_vec_u8(a, (size_t)1 << 20, &p, &n));
		if (n != 32)
			return TFG_ERR(TFG_ERR_INVALID_PUBLIC_KEY);
		TRY(dev_str_set(&t->pk, p, n));
	} else {
		t->pk.len = 0;
	}
	return 0;
}

static int call_create_twin(struct dev_ctx *ctx, struct scale_rd *a)
{
	const uint8_t *who = dev_origin(ctx);
	struct dev_twin t;
	uint32_t existing;
	int rc;

	if (!who)
		return DEV_ERR_BAD_ORIGIN;
	memset(&t, 0, sizeof(t));
	TRY(twin_args(a, &t));
	rc = dev_twin_id_of(ctx, who, &existing);
	if (rc == 0)
		return TFG_ERR(TFG_ERR_TWIN_EXISTS);
	if (rc != ZE_ABSENT)
		return rc;
	TRY(dev_next_id32(ctx, P, "TwinID", &t.id));
	memcpy(t.account_id, who, 32);
	TRY(dev_twin_put(ctx, &t));
	TRY(dev_put_u32(ctx, P, "TwinIdByAccountID", who, 32, t.id));
	return emit_twin(ctx, TFG_EV_TWIN_STORED, &t);
}

static int call_update_twin(struct dev_ctx *ctx, struct scale_rd *a)
{
	struct dev_twin t;

	TRY(dev_origin_twin(ctx, TFG_ERR(TFG_ERR_TWIN_NOT_EXISTS), &t));
	TRY(twin_args(a, &t));
	TRY(dev_twin_put(ctx, &t));
	return emit_twin(ctx, TFG_EV_TWIN_UPDATED, &t);
}

/* ---- Farms ---------------------------------------------------------------- */

static int farm_name_ok(const struct dev_str *name)
{
	for (size_t i = 0; i < name->len; i++) {
		uint8_t c = name->b[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '-';
		if (!ok)
			return 0;
	}
	return 1;
}

static int farm_ips_args(struct scale_rd *a, struct dev_farm *f)
{
	uint64_t n;

	TRY(scale_get_compact(a, &n));
	if (n > DEV_FARM_IPS_MAX)
		return TFG_ERR(TFG_ERR_STORAGE_OVERFLOW);
	f->npublic_ips = (size_t)n;
	for (size_t i = 0; i < f->npublic_ips; i++) {
		struct dev_public_ip *ip = &f->public_ips[i];
		TRY(dev_str_decode(a, &ip->ip));
		TRY(dev_str_decode(a, &ip->gateway));
		ip->contract_id = 0;
		if (ip->ip.len == 0)
			return TFG_ERR(TFG_ERR_PUBLIC_IP_TOO_SHORT);
		if (ip->gateway.len == 0)
			return TFG_ERR(TFG_ERR_GATEWAY_IP_TOO_SHORT);
		for (size_t k = 0; k < i; k++)
			if (dev_str_eq(&f->public_ips[k].ip, &ip->ip))
				return TFG_ERR(TFG_ERR_IP_EXISTS);
	}
	return 0;
}

static int call_create_farm(struct dev_ctx *ctx, struct scale_rd *a)
{
	struct dev_twin t;
	struct dev_farm f;
	const uint8_t *p;
	size_t n;
	uint32_t existing;
	int rc;

	TRY(dev_origin_twin(ctx, TFG_ERR(TFG_ERR_TWIN_NOT_EXISTS), &t));
	memset(&f, 0, sizeof(f));
	TRY(scale_get_vec_u8(a, (size_t)1 << 20, &p, &n));
	if (n == 0)
		return TFG_ERR(TFG_ERR_FARM_NAME_TOO_SHORT);
	if (n > DEV_STR_MAX)
		return TFG_ERR(TFG_ERR_FARM_NAME_TOO_LONG);
	TRY(dev_str_set(&f.name, p, n));
	if (!farm_name_ok(&f.name))
		return TFG_ERR(TFG_ERR_INVALID_FARM_NAME);
	TRY(farm_ips_args(a, &f));

	/* The map key is SCALE(Vec<u8>): compact length, then the bytes. */
	struct zbuf k;
	zbuf_init(&k, DEV_KEY_MAX);
	if ((rc = scale_put_vec_u8(&k, f.name.b, f.name.len)))
		goto out;
	rc = dev_get_u32(ctx, P, "FarmIdByName", k.data, k.len, &existing);
	if (rc == 0)
		rc = TFG_ERR(TFG_ERR_FARM_EXISTS);
	if (rc != ZE_ABSENT)
		goto out;
	if ((rc = dev_next_id32(ctx, P, "FarmID", &f.id)))
		goto out;
	f.version = FARM_VERSION;
	f.twin_id = t.id;
	f.pricing_policy_id = 1;
	f.certification = DEV_FARM_NOT_CERTIFIED;
	if ((rc = dev_farm_put(ctx, &f)))
		goto out;
	if ((rc = dev_put_u32(ctx, P, "FarmIdByName", k.data, k.len, f.id)))
		goto out;
	zbuf_free(&k);
	struct zbuf b;
	zbuf_init(&b, 0);
	return dev_emit_encoded(ctx, DEV_TFGRID_INDEX, TFG_EV_FARM_STORED, &b,
				dev_farm_encode(&f, &b));
out:
	zbuf_free(&k);
	return rc;
}

/* ---- Nodes ---------------------------------------------------------------- */

/* The arguments shared by create_node and update_node after the ids:
 * resources, location, interfaces, secure_boot, virtualized, serial_number. */
static int node_args(struct scale_rd *a, struct dev_node *n)
{
	uint64_t count;

	TRY(dev_resources_decode(a, &n->resources));
	TRY(dev_location_decode(a, &n->location));
	TRY(scale_get_compact(a, &count));
	if (count > DEV_NODE_IFACES_MAX)
		return TFG_ERR(TFG_ERR_STORAGE_OVERFLOW);
	n->ninterfaces = (size_t)count;
	for (size_t i = 0; i < n->ninterfaces; i++)
		TRY(dev_interface_decode(a, &n->interfaces[i]));
	TRY(scale_get_bool(a, &n->secure_boot));
	TRY(scale_get_bool(a, &n->virtualized));
	TRY(dev_opt_str_decode(a, &n->has_serial_number, &n->serial_number));
	if (n->resources.cru == 0)
		return TFG_ERR(TFG_ERR_INVALID_CRU_INPUT);
	if (n->resources.mru == 0)
		return TFG_ERR(TFG_ERR_INVALID_MRU_INPUT);
	return 0;
}

static int farm_exists(struct dev_ctx *ctx, uint32_t farm_id)
{
	struct dev_farm *f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	int rc = dev_farm_get(ctx, farm_id, f);
	free(f);
	return rc == ZE_ABSENT ? TFG_ERR(TFG_ERR_FARM_NOT_EXISTS) : rc;
}

static int emit_node(struct dev_ctx *ctx, uint8_t ev, const struct dev_node *n)
{
	struct zbuf b;
	zbuf_init(&b, 0);
	return dev_emit_encoded(ctx, DEV_TFGRID_INDEX, ev, &b, dev_node_encode(n, &b));
}

static int create_node(struct dev_ctx *ctx, struct scale_rd *a, struct dev_node *n)
{
	struct dev_twin t;
	uint8_t tk[4], fk[4];
	uint32_t existing;
	int rc;

	TRY(dev_origin_twin(ctx, TFG_ERR(TFG_ERR_TWIN_NOT_EXISTS), &t));
	TRY(scale_get_u32(a, &n->farm_id));
	TRY(node_args(a, n));
	TRY(farm_exists(ctx, n->farm_id));
	dev_le32(tk, t.id);
	rc = dev_get_u32(ctx, P, "NodeIdByTwinID", tk, 4, &existing);
	if (rc == 0 && existing != 0)
		return TFG_ERR(TFG_ERR_NODE_WITH_TWIN_ID_EXISTS);
	if (rc != 0 && rc != ZE_ABSENT)
		return rc;
	TRY(dev_next_id32(ctx, P, "NodeID", &n->id));
	n->version = NODE_VERSION;
	n->twin_id = t.id;
	n->created = dev_block_timestamp_ms(ctx) / 1000;
	n->certification = DEV_NODE_DIY;
	TRY(dev_get_u32(ctx, P, "ConnectionPrice", NULL, 0, &n->connection_price));
	TRY(dev_node_put(ctx, n));
	TRY(dev_put_u32(ctx, P, "NodeIdByTwinID", tk, 4, n->id));
	dev_le32(fk, n->farm_id);
	TRY(dev_u32_list_add(ctx, P, "NodesByFarmID", fk, 4, n->id));
	return emit_node(ctx, TFG_EV_NODE_STORED, n);
}

static int call_create_node(struct dev_ctx *ctx, struct scale_rd *a)
{
	struct dev_node *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	int rc = create_node(ctx, a, n);
	free(n);
	return rc;
}

static int update_node(struct dev_ctx *ctx, struct scale_rd *a, struct dev_node *n)
{
	struct dev_twin t;
	uint32_t node_id, farm_id;
	int rc;

	TRY(dev_origin_twin(ctx, TFG_ERR(TFG_ERR_TWIN_NOT_EXISTS), &t));
	TRY(scale_get_u32(a, &node_id));
	TRY(scale_get_u32(a, &farm_id));
	rc = dev_node_get(ctx, node_id, n);
	if (rc == ZE_ABSENT)
		return TFG_ERR(TFG_ERR_NODE_NOT_EXISTS);
	if (rc)
		return rc;
	if (n->twin_id != t.id)
		return TFG_ERR(TFG_ERR_NODE_UPDATE_NOT_AUTHORIZED);
	TRY(node_args(a, n));
	TRY(farm_exists(ctx, farm_id));
	if (farm_id != n->farm_id) {
		uint8_t fk[4];
		dev_le32(fk, farm_id);
		TRY(dev_u32_list_add(ctx, P, "NodesByFarmID", fk, 4, n->id));
		dev_le32(fk, n->farm_id);
		TRY(dev_u32_list_remove(ctx, P, "NodesByFarmID", fk, 4, n->id));
		n->farm_id = farm_id;
	}
	TRY(dev_node_put(ctx, n));
	return emit_node(ctx, TFG_EV_NODE_UPDATED, n);
}

static int call_update_node(struct dev_ctx *ctx, struct scale_rd *a)
{
	struct dev_node *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	int rc = update_node(ctx, a, n);
	free(n);
	return rc;
}

/* ---- Pricing policies ------------------------------------------------------ */

int dev_tfgrid_store_pricing_policy(struct dev_ctx *ctx, struct dev_pricing_policy *p)
{
	struct zbuf k, b;
	uint32_t existing;
	int rc;

	zbuf_init(&k, DEV_KEY_MAX);
	if ((rc = scale_put_vec_u8(&k, p->name.b, p->name.len)))
		goto out;
	rc = dev_get_u32(ctx, P, "PricingPolicyIdByName", k.data, k.len, &existing);
	if (rc == 0) {
		rc = TFG_ERR(TFG_ERR_PRICING_POLICY_EXISTS);
		goto out;
	}
	if (rc != ZE_ABSENT)
		goto out;
	if ((rc = dev_next_id32(ctx, P, "PricingPolicyID", &p->id)))
		goto out;
	p->version = PRICING_POLICY_VERSION;
	if ((rc = dev_pricing_policy_put(ctx, p)))
		goto out;
	if ((rc = dev_put_u32(ctx, P, "PricingPolicyIdByName", k.data, k.len, p->id)))
		goto out;
	zbuf_init(&b, 0);
	rc = dev_emit_encoded(ctx, DEV_TFGRID_INDEX, TFG_EV_PRICING_POLICY_STORED, &b,
			      dev_pricing_policy_encode(p, &b));
out:
	zbuf_free(&k);
	return rc;
}

/* 0 when who is the account named "pricing_policy_admin" in genesis,
 * DEV_ERR_BAD_ORIGIN otherwise (also when genesis named none). */
static int check_policy_admin(struct dev_ctx *ctx, const uint8_t *who)
{
	struct zbuf key, admin;
	int rc;

	if (!who)
		return DEV_ERR_BAD_ORIGIN;
	zbuf_init(&key, DEV_KEY_MAX);
	zbuf_init(&admin, 64);
	rc = dev_key(P, "PricingPolicyAdmin", NULL, 0, NULL, 0, &key);
	if (rc == 0)
		rc = dev_storage_get(ctx, key.data, key.len, &admin);
	if (rc == 0 && (admin.len != 32 || memcmp(admin.data, who, 32) != 0))
		rc = DEV_ERR_BAD_ORIGIN;
	zbuf_free(&key);
	zbuf_free(&admin);
	return rc == ZE_ABSENT ? DEV_ERR_BAD_ORIGIN : rc;
}

/* tfchain requires root for this call; the devchain has no sudo, so a
 * genesis-named account stands in for it. */
static int call_create_pricing_policy(struct dev_ctx *ctx, struct scale_rd *a)
{
	struct dev_pricing_policy p;

	TRY(check_policy_admin(ctx, dev_origin(ctx)));
	memset(&p, 0, sizeof(p));
	TRY(dev_str_decode(a, &p.name));
	TRY(dev_policy_decode(a, &p.su));
	TRY(dev_policy_decode(a, &p.cu));
	TRY(dev_policy_decode(a, &p.nu));
	TRY(dev_policy_decode(a, &p.ipu));
	TRY(dev_policy_decode(a, &p.unique_name));
	TRY(dev_policy_decode(a, &p.domain_name));
	TRY(scale_get_bytes(a, p.foundation_account, 32));
	TRY(scale_get_bytes(a, p.certified_sales_account, 32));
	TRY(scale_get_u8(a, &p.discount_for_dedication_nodes));
	return dev_tfgrid_store_pricing_policy(ctx, &p);
}

static const struct dev_call tfgrid_calls[] = {
	{"create_farm", 1, 0, call_create_farm},
	{"create_node", 8, 0, call_create_node},
	{"update_node", 9, 0, call_update_node},
	{"create_twin", 17, 0, call_create_twin},
	{"update_twin", 18, 0, call_update_twin},
	{"create_pricing_policy", 22, 0, call_create_pricing_policy},
	{"user_accept_tc", 25, 0, dev_tfgrid_call_user_accept_tc},
	{"report_uptime_v2", 38, 0, dev_tfgrid_call_report_uptime_v2},
};

const struct dev_pallet dev_pallet_tfgrid = {
	.name = DEV_TFGRID_PALLET,
	.index = DEV_TFGRID_INDEX,
	.calls = tfgrid_calls,
	.ncalls = sizeof(tfgrid_calls) / sizeof(tfgrid_calls[0]),
	.describe = dev_tfgrid_describe,
	.genesis = dev_tfgrid_genesis,
};
