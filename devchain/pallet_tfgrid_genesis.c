/* Genesis of TfgridModule: the connection price, the pricing policy admin
 * and pricing policy 1 from the genesis JSON section (docs/billing.md). */
#include "devchain/pallet_tfgrid.h"

#include <string.h>

#include "common/jnum.h"
#include "common/key.h"
#include "common/zerr.h"
#include "devchain/tfgrid_store.h"
#include "devchain/devchain_int.h"

#define P DEV_TFGRID_PALLET

static int json_u32(const cJSON *obj, const char *name, uint32_t def, uint32_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!v) {
		*out = def;
		return 0;
	}
	return jnum_u32(v, out) < 0 ? ZE_CONFIG : 0;
}

static const char *const unit_names[DEV_UNIT_COUNT] = {"Bytes", "Kilobytes", "Megabytes",
						       "Gigabytes", "Terrabytes"};

/* {"value": 50000, "unit": "Gigabytes"}; the unit defaults to Gigabytes. */
static int json_policy(const cJSON *obj, const char *name, uint32_t def, struct dev_policy *p)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	p->value = def;
	p->unit = DEV_UNIT_GIGABYTES;
	if (!v)
		return 0;
	if (!cJSON_IsObject(v))
		return ZE_CONFIG;
	TRY(json_u32(v, "value", def, &p->value));
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(v, "unit");
	if (!u)
		return 0;
	for (uint8_t i = 0; i < DEV_UNIT_COUNT; i++) {
		if (cJSON_IsString(u) && strcmp(u->valuestring, unit_names[i]) == 0) {
			p->unit = i;
			return 0;
		}
	}
	return ZE_CONFIG;
}

/* An account as "//Name" (a dev account), SS58 or 0x-hex. */
static int json_account(const cJSON *obj, const char *name, uint8_t out[32], int *found)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	int rc;

	*found = 0;
	if (!v)
		return 0;
	if (!cJSON_IsString(v))
		return ZE_CONFIG;
	if (strncmp(v->valuestring, "//", 2) == 0) {
		struct zkey k;
		rc = key_dev(v->valuestring, &k);
		if (rc == 0)
			memcpy(out, k.pk, 32);
		key_wipe(&k);
	} else {
		rc = key_parse_account(v->valuestring, out);
	}
	if (rc)
		return ZE_CONFIG;
	*found = 1;
	return 0;
}

/*
 * Section "TfgridModule" (every member optional):
 *   "connection_price": 80,
 *   "pricing_policy_admin": "//Alice" | "<ss58>" | "<0x-hex account>",
 *   "pricing_policy": {"name": "...", "su": {"value": 50000, "unit": "Gigabytes"},
 *      "cu", "nu", "ipu", "unique_name", "domain_name",
 *      "foundation_account", "certified_sales_account",
 *      "discount_for_dedication_nodes": 50}
 * Policy 1 defaults to tfchain's mainnet genesis values.
 */
int dev_tfgrid_genesis(struct dev_ctx *ctx, const cJSON *sec)
{
	static const char def_name[] = "threefold_default_pricing_policy";
	const cJSON *pp = sec ? cJSON_GetObjectItemCaseSensitive(sec, "pricing_policy") : NULL;
	struct dev_pricing_policy p;
	uint32_t conn, discount;
	uint8_t admin[32];
	int found;

	if (pp && !cJSON_IsObject(pp))
		return ZE_CONFIG;
	TRY(json_u32(sec, "connection_price", DEV_DEFAULT_CONNECTION_PRICE, &conn));
	TRY(dev_put_u32(ctx, P, "ConnectionPrice", NULL, 0, conn));
	TRY(json_account(sec, "pricing_policy_admin", admin, &found));
	if (found) {
		struct zbuf key;
		zbuf_init(&key, DEV_KEY_MAX);
		int rc = dev_key(P, "PricingPolicyAdmin", NULL, 0, NULL, 0, &key);
		if (rc == 0)
			rc = dev_storage_put(ctx, key.data, key.len, admin, 32);
		zbuf_free(&key);
		if (rc)
			return rc;
	}

	memset(&p, 0, sizeof(p));
	const cJSON *name = pp ? cJSON_GetObjectItemCaseSensitive(pp, "name") : NULL;
	if (name && (!cJSON_IsString(name) || name->valuestring[0] == '\0'))
		return ZE_CONFIG;
	const char *nm = name ? name->valuestring : def_name;
	if (dev_str_set(&p.name, nm, strlen(nm)))
		return ZE_CONFIG;
	TRY(json_policy(pp, "su", 50000, &p.su));
	TRY(json_policy(pp, "cu", 100000, &p.cu));
	TRY(json_policy(pp, "nu", 15000, &p.nu));
	TRY(json_policy(pp, "ipu", 40000, &p.ipu));
	TRY(json_policy(pp, "unique_name", 2500, &p.unique_name));
	TRY(json_policy(pp, "domain_name", 5000, &p.domain_name));
	TRY(json_account(pp, "foundation_account", p.foundation_account, &found));
	TRY(json_account(pp, "certified_sales_account", p.certified_sales_account, &found));
	TRY(json_u32(pp, "discount_for_dedication_nodes", 50, &discount));
	if (discount > 100)
		return ZE_CONFIG;
	p.discount_for_dedication_nodes = (uint8_t)discount;
	return dev_tfgrid_store_pricing_policy(ctx, &p);
}

