/*
 * tfchain structs from decoded JSON, by field name, and the accessors that
 * read them from storage.
 */
#include "chainclient/grid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/log.h"
#include "common/zerr.h"

/* A field the agent relies on; its absence means an unknown layout. */
static int gj_field(const cJSON *o, const char *strct, const char *name, const cJSON **out)
{
	*out = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
	if (!*out) {
		log_err("chain", "runtime's %s has no field '%s': unknown layout, refusing to guess",
			strct, name);
		return ZE_UNSUPPORTED;
	}
	return 0;
}

static int gj_bad(const char *strct, const char *name, const char *want)
{
	log_err("chain", "runtime's %s.%s is not %s: unknown layout, refusing to guess", strct, name,
		want);
	return ZE_UNSUPPORTED;
}

static int gj_u64(const cJSON *o, const char *strct, const char *name, uint64_t *v)
{
	const cJSON *f;
	int ret = gj_field(o, strct, name, &f);

	if (!ret && meta_json_u64(f, v) < 0)
		ret = gj_bad(strct, name, "an unsigned integer");
	return ret;
}

static int gj_u32(const cJSON *o, const char *strct, const char *name, uint32_t *v)
{
	uint64_t x;
	int ret = gj_u64(o, strct, name, &x);

	if (!ret && x > UINT32_MAX)
		ret = gj_bad(strct, name, "a u32");
	if (!ret)
		*v = (uint32_t)x;
	return ret;
}

static int gj_u128(const cJSON *o, const char *strct, const char *name, scale_u128 *v)
{
	const cJSON *f;
	int ret = gj_field(o, strct, name, &f);

	if (!ret && meta_json_u128(f, v) < 0)
		ret = gj_bad(strct, name, "an unsigned integer");
	return ret;
}

static int gj_fixed(const cJSON *f, const char *strct, const char *name, uint8_t *out, size_t n)
{
	if (!cJSON_IsString(f) || hex_decode_fixed(f->valuestring, out, n) < 0)
		return gj_bad(strct, name, "the expected byte array");
	return 0;
}

/* Bytes (Vec<u8>/BoundedVec) into out as a NUL-terminated string. */
static int gj_text(const cJSON *f, const char *strct, const char *name, char *out, size_t outsz)
{
	uint8_t *b;
	size_t n;
	int ret;

	if (!cJSON_IsString(f))
		return gj_bad(strct, name, "bytes");
	ret = hex_decode_alloc(f->valuestring, outsz - 1, &b, &n);
	if (ret == ZE_TOOBIG) {
		log_err("chain", "%s.%s longer than %zu bytes", strct, name, outsz - 1);
		return ret;
	}
	if (ret)
		return gj_bad(strct, name, "bytes");
	memcpy(out, b, n);
	out[n] = '\0';
	free(b);
	return 0;
}

/* An enum value: its variant name and payload (NULL when it has none). */
static int gj_enum(const cJSON *f, const char *strct, const char *name, const char **variant,
		   const cJSON **payload)
{
	if (cJSON_IsString(f)) {
		*variant = f->valuestring;
		*payload = NULL;
		return 0;
	}
	if (cJSON_IsObject(f) && f->child && !f->child->next) {
		*variant = f->child->string;
		*payload = f->child;
		return 0;
	}
	return gj_bad(strct, name, "an enum");
}

int grid_account_from_json(const cJSON *v, struct grid_account *out)
{
	const cJSON *data, *fz;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = gj_u32(v, "AccountInfo", "nonce", &out->nonce)) ||
	    (ret = gj_u32(v, "AccountInfo", "consumers", &out->consumers)) ||
	    (ret = gj_u32(v, "AccountInfo", "providers", &out->providers)) ||
	    (ret = gj_u32(v, "AccountInfo", "sufficients", &out->sufficients)) ||
	    (ret = gj_field(v, "AccountInfo", "data", &data)) ||
	    (ret = gj_u128(data, "AccountData", "free", &out->free)) ||
	    (ret = gj_u128(data, "AccountData", "reserved", &out->reserved)))
		return ret;
	fz = cJSON_GetObjectItemCaseSensitive(data, "frozen");
	if (!fz)
		fz = cJSON_GetObjectItemCaseSensitive(data, "misc_frozen");
	if (fz && meta_json_u128(fz, &out->frozen) < 0)
		return gj_bad("AccountData", "frozen", "an unsigned integer");
	return 0;
}

int grid_twin_from_json(const cJSON *v, struct grid_twin *out)
{
	const cJSON *f;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = gj_u32(v, "Twin", "id", &out->id)) ||
	    (ret = gj_field(v, "Twin", "account_id", &f)) ||
	    (ret = gj_fixed(f, "Twin", "account_id", out->account, 32)) ||
	    (ret = gj_field(v, "Twin", "relay", &f)))
		return ret;
	if (!cJSON_IsNull(f)) {
		ret = gj_text(f, "Twin", "relay", out->relay, sizeof(out->relay));
		if (ret)
			return ret;
		out->has_relay = 1;
	}
	if ((ret = gj_field(v, "Twin", "pk", &f)))
		return ret;
	if (!cJSON_IsNull(f)) {
		uint8_t *b;
		if (!cJSON_IsString(f))
			return gj_bad("Twin", "pk", "bytes");
		ret = hex_decode_alloc(f->valuestring, GRID_MAX_PK, &b, &out->pk_len);
		if (ret)
			return ret == ZE_TOOBIG ? ret : gj_bad("Twin", "pk", "bytes");
		memcpy(out->pk, b, out->pk_len);
		free(b);
	}
	return 0;
}

/* Reads the byte string v[sub][name] (or v[name]) as text into out, or
 * leaves out "" when it is absent, null, too long or not text: what the
 * node registered about its place is never a reason to refuse the node. */
static void node_optional_text(const cJSON *v, const char *sub, const char *name, char *out,
                               size_t outsz)
{
	const cJSON *o = sub ? cJSON_GetObjectItemCaseSensitive(v, sub) : v;
	const cJSON *f = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
	uint8_t *b = NULL;
	size_t n = 0;

	out[0] = 0;
	if (!cJSON_IsString(f) || hex_decode_alloc(f->valuestring, outsz - 1, &b, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (b[i] < 0x20 || b[i] > 0x7e) {
			free(b);
			return;
		}
	if (n)
		memcpy(out, b, n);
	out[n] = 0;
	free(b);
}

int grid_node_from_json(const cJSON *v, struct grid_node *out)
{
	const cJSON *r;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = gj_u32(v, "Node", "id", &out->id)) ||
	    (ret = gj_u32(v, "Node", "farm_id", &out->farm_id)) ||
	    (ret = gj_u32(v, "Node", "twin_id", &out->twin_id)) ||
	    (ret = gj_field(v, "Node", "resources", &r)) ||
	    (ret = gj_u64(r, "Resources", "hru", &out->hru)) ||
	    (ret = gj_u64(r, "Resources", "sru", &out->sru)) ||
	    (ret = gj_u64(r, "Resources", "cru", &out->cru)) ||
	    (ret = gj_u64(r, "Resources", "mru", &out->mru)))
		return ret;
	node_optional_text(v, "location", "city", out->city, sizeof out->city);
	node_optional_text(v, "location", "country", out->country, sizeof out->country);
	node_optional_text(v, "location", "latitude", out->latitude, sizeof out->latitude);
	node_optional_text(v, "location", "longitude", out->longitude, sizeof out->longitude);
	node_optional_text(v, NULL, "serial_number", out->serial_number, sizeof out->serial_number);
	return 0;
}

int grid_farm_from_json(const cJSON *v, struct grid_farm *out)
{
	const cJSON *f;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = gj_u32(v, "Farm", "id", &out->id)) || (ret = gj_field(v, "Farm", "name", &f)) ||
	    (ret = gj_text(f, "Farm", "name", out->name, sizeof(out->name))) ||
	    (ret = gj_u32(v, "Farm", "twin_id", &out->twin_id)) ||
	    (ret = gj_u32(v, "Farm", "pricing_policy_id", &out->pricing_policy_id)))
		return ret;
	return 0;
}

static int gj_policy(const cJSON *v, const char *name, struct grid_policy *p)
{
	const cJSON *f, *u, *payload;
	const char *unit;
	int ret;

	if ((ret = gj_field(v, "PricingPolicy", name, &f)) ||
	    (ret = gj_u32(f, "Policy", "value", &p->value)) ||
	    (ret = gj_field(f, "Policy", "unit", &u)) ||
	    (ret = gj_enum(u, "Policy", "unit", &unit, &payload)))
		return ret;
	snprintf(p->unit, sizeof(p->unit), "%s", unit);
	return 0;
}

int grid_pricing_policy_from_json(const cJSON *v, struct grid_pricing_policy *out)
{
	const cJSON *f;
	uint32_t d;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = gj_u32(v, "PricingPolicy", "id", &out->id)) ||
	    (ret = gj_field(v, "PricingPolicy", "name", &f)) ||
	    (ret = gj_text(f, "PricingPolicy", "name", out->name, sizeof(out->name))) ||
	    (ret = gj_policy(v, "su", &out->su)) || (ret = gj_policy(v, "cu", &out->cu)) ||
	    (ret = gj_policy(v, "nu", &out->nu)) || (ret = gj_policy(v, "ipu", &out->ipu)) ||
	    (ret = gj_policy(v, "unique_name", &out->unique_name)) ||
	    (ret = gj_policy(v, "domain_name", &out->domain_name)) ||
	    (ret = gj_field(v, "PricingPolicy", "foundation_account", &f)) ||
	    (ret = gj_fixed(f, "PricingPolicy", "foundation_account", out->foundation_account, 32)) ||
	    (ret = gj_field(v, "PricingPolicy", "certified_sales_account", &f)) ||
	    (ret = gj_fixed(f, "PricingPolicy", "certified_sales_account",
			    out->certified_sales_account, 32)) ||
	    (ret = gj_u32(v, "PricingPolicy", "discount_for_dedication_nodes", &d)))
		return ret;
	if (d > 255)
		return gj_bad("PricingPolicy", "discount_for_dedication_nodes", "a u8");
	out->discount_for_dedication_nodes = (uint8_t)d;
	return 0;
}

void grid_contract_clear(struct grid_contract *c)
{
	free(c->deployment_data);
	memset(c, 0, sizeof(*c));
}

const char *grid_contract_state_name(enum grid_contract_state s)
{
	switch (s) {
	case GRID_CONTRACT_CREATED: return "Created";
	case GRID_CONTRACT_DELETED: return "Deleted";
	case GRID_CONTRACT_GRACE_PERIOD: return "GracePeriod";
	case GRID_CONTRACT_DEPLOYED: return "Deployed";
	}
	return "?";
}

static int gj_contract_state(const cJSON *v, struct grid_contract *out)
{
	static const char *causes[] = {"CanceledByUser", "OutOfFunds", "CanceledByCollective",
				       "DeploymentFailed"};
	const cJSON *f, *payload;
	const char *name, *cause;
	int ret;

	if ((ret = gj_field(v, "Contract", "state", &f)) ||
	    (ret = gj_enum(f, "Contract", "state", &name, &payload)))
		return ret;
	if (!strcmp(name, "Created")) {
		out->state = GRID_CONTRACT_CREATED;
	} else if (!strcmp(name, "Deployed")) {
		out->state = GRID_CONTRACT_DEPLOYED;
	} else if (!strcmp(name, "GracePeriod")) {
		out->state = GRID_CONTRACT_GRACE_PERIOD;
		if (meta_json_u64(payload, &out->grace_block) < 0)
			return gj_bad("ContractState", "GracePeriod", "a block number");
	} else if (!strcmp(name, "Deleted")) {
		out->state = GRID_CONTRACT_DELETED;
		if ((ret = gj_enum(payload, "ContractState", "Deleted", &cause, &payload)))
			return ret;
		out->cause = GRID_CAUSE_OTHER;
		for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
			if (!strcmp(cause, causes[i]))
				out->cause = (enum grid_cause)(GRID_CAUSE_CANCELED_BY_USER + i);
	} else {
		log_err("chain", "unknown ContractState %s", name);
		return ZE_UNSUPPORTED;
	}
	return 0;
}

static int gj_node_contract(const cJSON *nc, struct grid_contract *out)
{
	const cJSON *f;
	int ret;

	out->type = GRID_NODE_CONTRACT;
	if ((ret = gj_u32(nc, "NodeContract", "node_id", &out->node_id)) ||
	    (ret = gj_field(nc, "NodeContract", "deployment_hash", &f)) ||
	    (ret = gj_fixed(f, "NodeContract", "deployment_hash", out->deployment_hash, 32)) ||
	    (ret = gj_field(nc, "NodeContract", "deployment_data", &f)))
		return ret;
	if (!cJSON_IsString(f))
		return gj_bad("NodeContract", "deployment_data", "bytes");
	ret = hex_decode_alloc(f->valuestring, GRID_MAX_DEPLOYMENT_DATA, &out->deployment_data,
			       &out->deployment_data_len);
	if (ret)
		return ret == ZE_TOOBIG ? ret : gj_bad("NodeContract", "deployment_data", "bytes");
	return gj_u32(nc, "NodeContract", "public_ips", &out->public_ips);
}

int grid_contract_from_json(const cJSON *v, struct grid_contract *out)
{
	const cJSON *f, *payload;
	const char *kind;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = gj_u32(v, "Contract", "version", &out->version)) ||
	    (ret = gj_contract_state(v, out)) ||
	    (ret = gj_u64(v, "Contract", "contract_id", &out->contract_id)) ||
	    (ret = gj_u32(v, "Contract", "twin_id", &out->twin_id)) ||
	    (ret = gj_field(v, "Contract", "contract_type", &f)) ||
	    (ret = gj_enum(f, "Contract", "contract_type", &kind, &payload)))
		goto fail;
	if (!strcmp(kind, "NodeContract")) {
		ret = gj_node_contract(payload, out);
	} else if (!strcmp(kind, "RentContract")) {
		out->type = GRID_RENT_CONTRACT;
		ret = gj_u32(payload, "RentContract", "node_id", &out->node_id);
	} else if (!strcmp(kind, "NameContract")) {
		out->type = GRID_NAME_CONTRACT;
	} else {
		log_err("chain", "unknown ContractData %s", kind);
		ret = ZE_UNSUPPORTED;
	}
	if (ret)
		goto fail;
	/* Optional in the agent's eyes: older runtimes have no solution providers. */
	f = cJSON_GetObjectItemCaseSensitive(v, "solution_provider_id");
	if (f && !cJSON_IsNull(f)) {
		if (meta_json_u64(f, &out->solution_provider_id) < 0) {
			ret = gj_bad("Contract", "solution_provider_id", "an Option<u64>");
			goto fail;
		}
		out->has_solution_provider = 1;
	}
	return 0;
fail:
	grid_contract_clear(out);
	return ret;
}

/* Reads pallet.item[key] with one u32/u64 or account key, as JSON. */
static int grid_read(struct chain_client *c, const char *pallet, const char *item, cJSON *key,
		     cJSON **out)
{
	cJSON *keys = cJSON_CreateArray();
	int ret;

	*out = NULL;
	if (!keys || !key) {
		cJSON_Delete(keys);
		cJSON_Delete(key);
		return -ENOMEM;
	}
	cJSON_AddItemToArray(keys, key);
	ret = chain_get_json(c, pallet, item, keys, NULL, out);
	cJSON_Delete(keys);
	return ret;
}

static cJSON *grid_account_key(const uint8_t account[32])
{
	char hex[67];

	hex_encode(account, 32, 1, hex, sizeof(hex));
	return cJSON_CreateString(hex);
}

int grid_account(struct chain_client *c, const uint8_t account[32], struct grid_account *out)
{
	cJSON *v;
	int ret = grid_read(c, "System", "Account", grid_account_key(account), &v);

	if (!ret)
		ret = grid_account_from_json(v, out);
	cJSON_Delete(v);
	return ret;
}

#define GRID_GETTER(fn, type, pallet, item, keytype, keyexpr, conv)                               \
	int fn(struct chain_client *c, keytype id, type *out)                                     \
	{                                                                                         \
		cJSON *v;                                                                         \
		int ret;                                                                          \
		memset(out, 0, sizeof(*out));                                                     \
		ret = grid_read(c, pallet, item, keyexpr, &v);                                    \
		if (!ret)                                                                         \
			ret = conv(v, out);                                                       \
		cJSON_Delete(v);                                                                  \
		return ret;                                                                       \
	}

GRID_GETTER(grid_twin, struct grid_twin, "TfgridModule", "Twins", uint32_t,
	    cJSON_CreateNumber(id), grid_twin_from_json)
GRID_GETTER(grid_node, struct grid_node, "TfgridModule", "Nodes", uint32_t,
	    cJSON_CreateNumber(id), grid_node_from_json)
GRID_GETTER(grid_farm, struct grid_farm, "TfgridModule", "Farms", uint32_t,
	    cJSON_CreateNumber(id), grid_farm_from_json)
GRID_GETTER(grid_pricing_policy, struct grid_pricing_policy, "TfgridModule", "PricingPolicies",
	    uint32_t, cJSON_CreateNumber(id), grid_pricing_policy_from_json)

/* u64 keys go as decimal strings: a JSON number loses precision past 2^53. */
static cJSON *grid_u64_key(uint64_t id)
{
	char s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)id);
	return cJSON_CreateString(s);
}

GRID_GETTER(grid_contract, struct grid_contract, "SmartContractModule", "Contracts", uint64_t,
	    grid_u64_key(id), grid_contract_from_json)

static int grid_u32_value(struct chain_client *c, const char *pallet, const char *item,
			  cJSON *key, uint32_t *out)
{
	cJSON *v;
	uint64_t x;
	int ret = grid_read(c, pallet, item, key, &v);

	if (!ret && (meta_json_u64(v, &x) < 0 || x > UINT32_MAX)) {
		log_err("chain", "%s.%s is not a u32", pallet, item);
		ret = ZE_UNSUPPORTED;
	}
	if (!ret)
		*out = (uint32_t)x;
	cJSON_Delete(v);
	return ret;
}

int grid_twin_id_by_account(struct chain_client *c, const uint8_t account[32], uint32_t *id)
{
	int ret = grid_u32_value(c, "TfgridModule", "TwinIdByAccountID", grid_account_key(account),
				 id);

	/* Twin ids start at 1; a default-valued entry means none. */
	return !ret && *id == 0 ? ZE_ABSENT : ret;
}

int grid_twin_by_account(struct chain_client *c, const uint8_t account[32], struct grid_twin *out)
{
	uint32_t id;
	int ret = grid_twin_id_by_account(c, account, &id);

	return ret ? ret : grid_twin(c, id, out);
}

int grid_node_id_by_twin(struct chain_client *c, uint32_t twin_id, uint32_t *node_id)
{
	int ret = grid_u32_value(c, "TfgridModule", "NodeIdByTwinID", cJSON_CreateNumber(twin_id),
				 node_id);

	return !ret && *node_id == 0 ? ZE_ABSENT : ret;
}

int grid_node_by_twin(struct chain_client *c, uint32_t twin_id, struct grid_node *out)
{
	uint32_t id;
	int ret = grid_node_id_by_twin(c, twin_id, &id);

	return ret ? ret : grid_node(c, id, out);
}

int grid_active_contracts(struct chain_client *c, uint32_t node_id, uint64_t **ids, size_t *n)
{
	cJSON *v;
	const cJSON *it;
	size_t cnt, i = 0;
	int ret;

	*ids = NULL;
	*n = 0;
	ret = grid_read(c, "SmartContractModule", "ActiveNodeContracts", cJSON_CreateNumber(node_id),
			&v);
	if (ret)
		return ret;
	if (!cJSON_IsArray(v)) {
		ret = gj_bad("SmartContractModule", "ActiveNodeContracts", "a list");
		goto out;
	}
	cnt = (size_t)cJSON_GetArraySize(v);
	if (cnt > GRID_MAX_ACTIVE_CONTRACTS) {
		ret = ZE_TOOBIG;
		goto out;
	}
	if (cnt) {
		*ids = calloc(cnt, sizeof(**ids));
		if (!*ids) {
			ret = -ENOMEM;
			goto out;
		}
	}
	cJSON_ArrayForEach(it, v) {
		if (meta_json_u64(it, &(*ids)[i]) < 0) {
			free(*ids);
			*ids = NULL;
			ret = gj_bad("SmartContractModule", "ActiveNodeContracts", "a list of u64");
			goto out;
		}
		i++;
	}
	*n = cnt;
out:
	cJSON_Delete(v);
	return ret;
}

int grid_max_deployment_data(struct chain_client *c, uint32_t *out)
{
	struct chain_runtime *rt;
	int ret = chain_client_runtime(c, &rt);
	if (ret)
		return ret;
	/* tfchain's runtime declares it as a constant, tfchain-dev keeps it in
	 * storage so that a genesis can set it. */
	const struct meta_pallet *p = meta_pallet(rt->meta, "SmartContractModule");
	const struct meta_constant *k = p ? meta_constant(p, "MaxDeploymentDataLength") : NULL;
	if (k && k->len == 4) {
		*out = (uint32_t)k->value[0] | (uint32_t)k->value[1] << 8 |
		       (uint32_t)k->value[2] << 16 | (uint32_t)k->value[3] << 24;
		chain_runtime_put(rt);
		return 0;
	}
	chain_runtime_put(rt);
	cJSON *v;
	uint64_t n;
	ret = chain_get_json(c, "SmartContractModule", "MaxDeploymentDataLength", NULL, NULL, &v);
	if (ret == ZE_UNSUPPORTED)
		return ZE_ABSENT;
	if (ret)
		return ret;
	ret = meta_json_u64(v, &n) < 0 || n > UINT32_MAX ? ZE_MALFORMED : 0;
	cJSON_Delete(v);
	if (!ret)
		*out = (uint32_t)n;
	return ret;
}

int grid_has_call(struct chain_client *c, const char *pallet, const char *call)
{
	struct chain_runtime *rt;
	int ret = chain_client_runtime(c, &rt);
	if (ret)
		return ret;
	const struct meta_pallet *p = meta_pallet(rt->meta, pallet);
	ret = p && meta_call(rt->meta, p, call) ? 1 : 0;
	chain_runtime_put(rt);
	return ret;
}
