/*
 * TfgridModule and SmartContractModule driven through runtime.h: calls run
 * in a call layer of an in-memory chain context, exactly as block
 * production runs them (minus fees), and the results are read back from
 * storage, balances and the emitted events.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainclient/hash.h"
#include "common/hex.h"
#include "common/key.h"
#include "common/zerr.h"
#include "devchain/exec.h"
#include "devchain/genesis.h"
#include "devchain/metagen.h"
#include "devchain/pallet_tfgrid.h"
#include "devchain/store.h"
#include "devchain/tfgrid_store.h"

#define GIB (1ull << 30)
#define T0_MS 1700000000000ull
#define GRACE_BLOCKS 5

/* Who is who: alice deploys, bob farms, charlie runs node 1, dave runs
 * node 2 (same farm), eve is a bystander without a twin. */
struct env {
	struct dev_store *st;
	struct dev_params params;
	struct dev_ctx ctx;
	struct zkey alice, bob, charlie, dave, eve;
};

/* ---- Harness -------------------------------------------------------------- */

static int run(struct env *e, const struct dev_pallet *p, const char *name, const struct zkey *who,
	       const struct zbuf *args)
{
	const struct dev_call *call = NULL;
	struct scale_rd rd;
	int rc;

	for (size_t i = 0; i < p->ncalls; i++)
		if (strcmp(p->calls[i].name, name) == 0)
			call = &p->calls[i];
	assert_non_null(call);
	scale_rd_init(&rd, args->data, args->len);
	e->ctx.phase = DEV_PHASE_APPLY;
	dev_ctx_call_begin(&e->ctx);
	e->ctx.origin = who ? who->pk : NULL;
	rc = call->fn(&e->ctx, &rd);
	e->ctx.origin = NULL;
	if (rc)
		dev_ctx_call_rollback(&e->ctx);
	else
		assert_int_equal(dev_ctx_call_commit(&e->ctx), 0);
	return rc;
}

static int grid(struct env *e, const char *name, const struct zkey *who, struct zbuf *args)
{
	int rc = run(e, &dev_pallet_tfgrid, name, who, args);
	zbuf_free(args);
	return rc;
}

static int sc(struct env *e, const char *name, const struct zkey *who, struct zbuf *args)
{
	int rc = run(e, &dev_pallet_smartcontract, name, who, args);
	zbuf_free(args);
	return rc;
}

/* Starts the next block secs later and runs the contract pallet's
 * per-block hook, as block production does. */
static void next_block(struct env *e, uint64_t secs)
{
	e->ctx.number++;
	e->ctx.now_ms += secs * 1000;
	e->ctx.phase = DEV_PHASE_INITIALIZATION;
	dev_ctx_call_begin(&e->ctx);
	assert_int_equal(dev_pallet_smartcontract.on_initialize(&e->ctx), 0);
	assert_int_equal(dev_ctx_call_commit(&e->ctx), 0);
}

static int pallet_in_table(const struct dev_pallet *p)
{
	for (size_t i = 0; i < dev_npallets; i++)
		if (dev_pallets[i] == p)
			return 1;
	return 0;
}

static void genesis(struct env *e)
{
	static const char json[] =
		"{\"Balances\": {\"balances\": [[\"//Alice\", \"10000000000000\"],"
		" [\"//Bob\", \"10000000000000\"], [\"//Charlie\", \"10000000000000\"],"
		" [\"//Dave\", \"10000000000000\"], [\"//Eve\", \"10000000000000\"]]},"
		" \"TfgridModule\": {},"
		" \"SmartContractModule\": {\"tft_price_musd\": 50, \"grace_period_blocks\": 5,"
		" \"max_deployment_data\": 16384}}";
	cJSON *g = cJSON_Parse(json);
	assert_non_null(g);
	/* Eve administers pricing policies. */
	char *hex = hex_encode_alloc(e->eve.pk, 32, 1);
	assert_non_null(hex);
	assert_non_null(cJSON_AddStringToObject(cJSON_GetObjectItem(g, "TfgridModule"),
						"pricing_policy_admin", hex));
	free(hex);

	assert_int_equal(dev_genesis_apply(&e->ctx, g), 0);
	/* Until the framework's pallet table lists these pallets, run their
	 * genesis hooks here (never twice). */
	const struct dev_pallet *mine[] = {&dev_pallet_tfgrid, &dev_pallet_smartcontract};
	for (size_t i = 0; i < 2; i++) {
		if (pallet_in_table(mine[i]))
			continue;
		dev_ctx_call_begin(&e->ctx);
		assert_int_equal(mine[i]->genesis(&e->ctx, cJSON_GetObjectItem(g, mine[i]->name)),
				 0);
		assert_int_equal(dev_ctx_call_commit(&e->ctx), 0);
	}
	cJSON_Delete(g);
}

/* ---- Argument builders ---------------------------------------------------- */

static struct zbuf args(void)
{
	struct zbuf b;
	zbuf_init(&b, 0);
	return b;
}

static void put_str(struct zbuf *b, const char *s)
{
	assert_int_equal(scale_put_vec_u8(b, (const uint8_t *)s, strlen(s)), 0);
}

static struct zbuf twin_args(const char *relay, const uint8_t *pk)
{
	struct zbuf b = args();
	scale_put_u8(&b, relay ? 1 : 0);
	if (relay)
		put_str(&b, relay);
	scale_put_u8(&b, pk ? 1 : 0);
	if (pk)
		scale_put_vec_u8(&b, pk, 32);
	return b;
}

static struct zbuf farm_args(const char *name, int nips)
{
	struct zbuf b = args();
	put_str(&b, name);
	scale_put_compact(&b, (uint64_t)nips);
	for (int i = 0; i < nips; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "185.69.166.%d/24", 10 + i);
		put_str(&b, ip);
		put_str(&b, "185.69.166.1");
	}
	return b;
}

static struct zbuf node_args(int update_id, uint32_t farm_id, uint64_t cru)
{
	struct zbuf b = args();
	if (update_id)
		scale_put_u32(&b, (uint32_t)update_id);
	scale_put_u32(&b, farm_id);
	scale_put_u64(&b, 4000 * GIB); /* hru */
	scale_put_u64(&b, 1000 * GIB); /* sru */
	scale_put_u64(&b, cru);
	scale_put_u64(&b, 64 * GIB); /* mru */
	put_str(&b, "Ghent");
	put_str(&b, "Belgium");
	put_str(&b, "51.05");
	put_str(&b, "3.71");
	scale_put_compact(&b, 1);
	put_str(&b, "zos");
	put_str(&b, "00:11:22:33:44:55");
	scale_put_compact(&b, 1);
	put_str(&b, "10.0.0.2/24");
	scale_put_bool(&b, 0);
	scale_put_bool(&b, 1);
	scale_put_u8(&b, 1);
	put_str(&b, "SN-1");
	return b;
}

static struct zbuf contract_args(uint32_t node_id, uint8_t hash_byte, size_t data_len,
				 uint32_t ips)
{
	struct zbuf b = args();
	uint8_t hash[32];
	memset(hash, hash_byte, 32);
	scale_put_u32(&b, node_id);
	scale_put_bytes(&b, hash, 32);
	uint8_t *data = calloc(1, data_len ? data_len : 1);
	assert_non_null(data);
	scale_put_vec_u8(&b, data, data_len);
	free(data);
	scale_put_u32(&b, ips);
	scale_put_u8(&b, 0);
	return b;
}

static struct zbuf id_args(uint64_t id)
{
	struct zbuf b = args();
	scale_put_u64(&b, id);
	return b;
}

struct report {
	uint64_t contract_id, ts, cru, sru, hru, mru, nru;
};

static void put_report(struct zbuf *b, const struct report *r)
{
	struct dev_consumption c = {r->contract_id, r->ts, r->cru, r->sru, r->hru, r->mru, r->nru};
	assert_int_equal(dev_consumption_encode(&c, b), 0);
}

static struct zbuf reports_args(size_t n, const struct report *r)
{
	struct zbuf b = args();
	scale_put_compact(&b, n);
	for (size_t i = 0; i < n; i++)
		put_report(&b, &r[i]);
	return b;
}

/* The report the billing tests send: 0.5 su + 1 cu for the window and
 * 1 GB of traffic. */
static struct report std_report(uint64_t id, uint64_t ts)
{
	return (struct report){id, ts, 2, 100 * GIB, 0, 4 * GIB, 1000000000ull};
}

/* ---- Readers -------------------------------------------------------------- */

static dev_balance balance(struct env *e, const struct zkey *k)
{
	dev_balance b;
	assert_int_equal(dev_balance_free(&e->ctx, k->pk, &b), 0);
	return b;
}

static int contract_state(struct env *e, uint64_t id, struct dev_contract *out)
{
	struct dev_contract c;
	memset(&c, 0, sizeof(c));
	int rc = dev_contract_get(&e->ctx, id, &c);
	if (rc == 0 && out) {
		*out = c;
		out->deployment_data = NULL;
	}
	int state = rc == 0 ? c.state : rc;
	dev_contract_clear(&c);
	return state;
}

static size_t active_contracts(struct env *e, uint32_t node_id, uint64_t *first)
{
	uint8_t k[4];
	uint64_t *ids;
	size_t n;
	dev_le32(k, node_id);
	assert_int_equal(dev_get_u64_list(&e->ctx, DEV_SC_PALLET, "ActiveNodeContracts", k, 4,
					  &ids, &n),
			 0);
	if (n && first)
		*first = ids[0];
	free(ids);
	return n;
}

/* Whether the events emitted since `from` contain pallet.variant with a
 * payload starting with the given bytes. */
static int has_event(struct env *e, size_t from, uint8_t pallet, uint8_t variant,
		     const void *payload, size_t n)
{
	uint8_t pat[128];
	assert_true(n + 2 <= sizeof(pat));
	pat[0] = pallet;
	pat[1] = variant;
	memcpy(pat + 2, payload, n);
	return memmem(e->ctx.events.data + from, e->ctx.events.len - from, pat, n + 2) != NULL;
}

static int has_u64_event(struct env *e, size_t from, uint8_t variant, uint64_t id)
{
	uint8_t k[8];
	dev_le64(k, id);
	return has_event(e, from, DEV_SC_INDEX, variant, k, 8);
}

static const char *sc_err(int rc)
{
	return DEV_IS_MODULE_ERR(rc) ? dev_sc_error_name(DEV_MODULE_ERR_INDEX(rc)) : "not a module error";
}

static const char *grid_err(int rc)
{
	return DEV_IS_MODULE_ERR(rc) ? dev_tfgrid_error_name(DEV_MODULE_ERR_INDEX(rc))
				     : "not a module error";
}

/* ---- Fixture: twins 1-4, farm 1 with 2 IPs, nodes 1 and 2 ---------------- */

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	assert_int_equal(dev_store_open(":memory:", &e->st), 0);
	e->params = (struct dev_params){DEV_EXISTENTIAL_DEPOSIT, DEV_FEE_BASE, DEV_FEE_PER_BYTE};
	dev_ctx_init(&e->ctx, e->st, 0, 0, &e->params);
	assert_int_equal(key_dev("alice", &e->alice), 0);
	assert_int_equal(key_dev("bob", &e->bob), 0);
	assert_int_equal(key_dev("charlie", &e->charlie), 0);
	assert_int_equal(key_dev("dave", &e->dave), 0);
	assert_int_equal(key_dev("eve", &e->eve), 0);
	genesis(e);
	e->ctx.number = 1;
	e->ctx.now_ms = T0_MS;

	struct zbuf b;
	b = twin_args("tcp://127.0.0.1:7001", NULL);
	assert_int_equal(grid(e, "create_twin", &e->alice, &b), 0);
	b = twin_args(NULL, NULL);
	assert_int_equal(grid(e, "create_twin", &e->bob, &b), 0);
	b = twin_args("tcp://127.0.0.1:7003", NULL);
	assert_int_equal(grid(e, "create_twin", &e->charlie, &b), 0);
	b = twin_args("tcp://127.0.0.1:7004", NULL);
	assert_int_equal(grid(e, "create_twin", &e->dave, &b), 0);
	b = farm_args("freefarm", 2);
	assert_int_equal(grid(e, "create_farm", &e->bob, &b), 0);
	b = node_args(0, 1, 8);
	assert_int_equal(grid(e, "create_node", &e->charlie, &b), 0);
	b = node_args(0, 1, 4);
	assert_int_equal(grid(e, "create_node", &e->dave, &b), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	dev_ctx_free(&e->ctx);
	dev_store_close(e->st);
	key_wipe(&e->alice);
	key_wipe(&e->bob);
	key_wipe(&e->charlie);
	key_wipe(&e->dave);
	key_wipe(&e->eve);
	free(e);
	return 0;
}

/* Creates a contract of alice on node 1 and has charlie deploy it. */
static uint64_t deployed_contract(struct env *e, uint8_t hash_byte)
{
	uint64_t id;
	struct zbuf b = contract_args(1, hash_byte, 100, 0);
	assert_int_equal(sc(e, "create_node_contract", &e->alice, &b), 0);
	assert_int_equal(dev_get_u64(&e->ctx, DEV_SC_PALLET, "ContractID", NULL, 0, &id), 0);
	b = id_args(id);
	assert_int_equal(sc(e, "set_contract_deployed", &e->charlie, &b), 0);
	return id;
}

/* Leaves `keep` planck on alice's account. */
static void drain_alice(struct env *e, dev_balance keep)
{
	dev_balance have = balance(e, &e->alice);
	dev_ctx_call_begin(&e->ctx);
	assert_int_equal(dev_balance_transfer(&e->ctx, e->alice.pk, e->eve.pk, have - keep, 1), 0);
	assert_int_equal(dev_ctx_call_commit(&e->ctx), 0);
}

/* ---- TfgridModule ---------------------------------------------------------- */

static void test_grid_objects(void **state)
{
	struct env *e = *state;
	struct dev_twin t;
	struct dev_farm f;
	struct dev_node *n = calloc(1, sizeof(*n));
	struct dev_pricing_policy p;
	uint32_t id;

	assert_non_null(n);
	assert_int_equal(dev_twin_id_of(&e->ctx, e->charlie.pk, &id), 0);
	assert_int_equal(id, 3);
	assert_int_equal(dev_twin_get(&e->ctx, 3, &t), 0);
	assert_memory_equal(t.account_id, e->charlie.pk, 32);
	assert_true(t.has_relay);
	assert_memory_equal(t.relay, "tcp://127.0.0.1:7003", t.relay_len);
	assert_int_equal(dev_farm_get(&e->ctx, 1, &f), 0);
	assert_int_equal(f.twin_id, 2);
	assert_int_equal(f.pricing_policy_id, 1);
	assert_int_equal(f.npublic_ips, 2);
	assert_int_equal(dev_node_get(&e->ctx, 2, n), 0);
	assert_int_equal(n->twin_id, 4);
	assert_int_equal(n->farm_id, 1);
	assert_int_equal(n->resources.cru, 4);
	assert_int_equal(n->created, T0_MS / 1000);
	assert_int_equal(n->connection_price, DEV_DEFAULT_CONNECTION_PRICE);
	assert_true(n->has_serial_number);
	assert_int_equal(n->ninterfaces, 1);
	uint8_t k[4];
	dev_le32(k, 4);
	assert_int_equal(dev_get_u32(&e->ctx, DEV_TFGRID_PALLET, "NodeIdByTwinID", k, 4, &id), 0);
	assert_int_equal(id, 2);
	/* Genesis policy 1 carries tfchain's genesis prices. */
	assert_int_equal(dev_pricing_policy_get(&e->ctx, 1, &p), 0);
	assert_int_equal(p.su.value, 50000);
	assert_int_equal(p.cu.value, 100000);
	assert_int_equal(p.nu.value, 15000);
	assert_int_equal(p.ipu.value, 40000);
	assert_int_equal(p.su.unit, DEV_UNIT_GIGABYTES);
	assert_int_equal(p.discount_for_dedication_nodes, 50);
	free(n);
}

static void test_grid_errors(void **state)
{
	struct env *e = *state;
	struct zbuf b;
	uint8_t pk[32] = {1};

	b = twin_args(NULL, NULL);
	assert_string_equal(grid_err(grid(e, "create_twin", &e->alice, &b)), "TwinExists");
	b = twin_args(NULL, NULL);
	assert_string_equal(grid_err(grid(e, "update_twin", &e->eve, &b)), "TwinNotExists");
	b = twin_args("bad relay", NULL);
	assert_string_equal(grid_err(grid(e, "update_twin", &e->alice, &b)), "InvalidRelay");
	b = twin_args("", NULL);
	assert_string_equal(grid_err(grid(e, "update_twin", &e->alice, &b)), "RelayTooShort");
	b = args();
	scale_put_u8(&b, 0);
	scale_put_u8(&b, 1);
	scale_put_vec_u8(&b, pk, 31);
	assert_string_equal(grid_err(grid(e, "update_twin", &e->alice, &b)), "InvalidPublicKey");
	b = twin_args(NULL, pk);
	assert_int_equal(grid(e, "update_twin", &e->alice, &b), 0);

	b = farm_args("freefarm", 0);
	assert_string_equal(grid_err(grid(e, "create_farm", &e->alice, &b)), "FarmExists");
	b = farm_args("free farm", 0);
	assert_string_equal(grid_err(grid(e, "create_farm", &e->alice, &b)), "InvalidFarmName");
	b = farm_args("otherfarm", 0);
	assert_string_equal(grid_err(grid(e, "create_farm", &e->eve, &b)), "TwinNotExists");

	b = node_args(0, 1, 8);
	assert_string_equal(grid_err(grid(e, "create_node", &e->charlie, &b)),
			    "NodeWithTwinIdExists");
	b = node_args(0, 9, 8);
	assert_string_equal(grid_err(grid(e, "create_node", &e->alice, &b)), "FarmNotExists");
	b = node_args(0, 1, 0);
	assert_string_equal(grid_err(grid(e, "create_node", &e->alice, &b)), "InvalidCRUInput");
	b = node_args(1, 1, 16);
	assert_string_equal(grid_err(grid(e, "update_node", &e->dave, &b)),
			    "NodeUpdateNotAuthorized");
	b = node_args(7, 1, 16);
	assert_string_equal(grid_err(grid(e, "update_node", &e->dave, &b)), "NodeNotExists");
	size_t ev = e->ctx.events.len;
	b = node_args(1, 1, 16);
	assert_int_equal(grid(e, "update_node", &e->charlie, &b), 0);
	/* NodeUpdated(Node{version 6, id 1, ...}) with the new resources. */
	assert_true(has_event(e, ev, DEV_TFGRID_INDEX, TFG_EV_NODE_UPDATED,
			      "\x06\x00\x00\x00\x01\x00\x00\x00", 8));
	struct dev_node *n = calloc(1, sizeof(*n));
	assert_non_null(n);
	assert_int_equal(dev_node_get(&e->ctx, 1, n), 0);
	assert_int_equal(n->resources.cru, 16);
	free(n);

	/* Pricing policies: only the genesis admin (eve), unique names. */
	b = args();
	put_str(&b, "cheap");
	for (int i = 0; i < 6; i++) {
		struct dev_policy pol = {1000, DEV_UNIT_GIGABYTES};
		dev_policy_encode(&pol, &b);
	}
	scale_put_bytes(&b, pk, 32);
	scale_put_bytes(&b, pk, 32);
	scale_put_u8(&b, 10);
	struct zbuf copy = args(), copy2 = args();
	zbuf_put(&copy, b.data, b.len);
	zbuf_put(&copy2, b.data, b.len);
	assert_int_equal(grid(e, "create_pricing_policy", &e->alice, &b), DEV_ERR_BAD_ORIGIN);
	assert_int_equal(grid(e, "create_pricing_policy", &e->eve, &copy), 0);
	assert_string_equal(grid_err(grid(e, "create_pricing_policy", &e->eve, &copy2)),
			    "PricingPolicyExists");
	struct dev_pricing_policy p;
	assert_int_equal(dev_pricing_policy_get(&e->ctx, 2, &p), 0);
	assert_int_equal(p.su.value, 1000);
}

/* ---- SmartContractModule ------------------------------------------------------ */

static void test_contract_create(void **state)
{
	struct env *e = *state;
	struct zbuf b;
	struct dev_contract c;
	uint64_t first = 0, id;

	size_t ev = e->ctx.events.len;
	b = contract_args(1, 0xaa, 16384, 0);
	assert_int_equal(sc(e, "create_node_contract", &e->alice, &b), 0);
	assert_int_equal(contract_state(e, 1, &c), DEV_CONTRACT_CREATED);
	assert_int_equal(c.twin_id, 1);
	assert_int_equal(c.node_id, 1);
	assert_int_equal(active_contracts(e, 1, &first), 1);
	assert_int_equal(first, 1);
	assert_true(has_event(e, ev, DEV_SC_INDEX, SC_EV_CONTRACT_CREATED, "\x04\x00\x00\x00\x00",
			      5));

	/* (node, hash) is unique; the hash index points at the contract. */
	uint8_t nk[4], hash[32];
	struct zbuf key = args(), val = args();
	dev_le32(nk, 1);
	memset(hash, 0xaa, 32);
	assert_int_equal(dev_key(DEV_SC_PALLET, "ContractIDByNodeIDAndHash", nk, 4, hash, 32,
				 &key),
			 0);
	assert_int_equal(dev_storage_get(&e->ctx, key.data, key.len, &val), 0);
	assert_int_equal(val.len, 8);
	assert_int_equal(val.data[0], 1);
	zbuf_free(&key);
	zbuf_free(&val);
	b = contract_args(1, 0xaa, 10, 0);
	assert_string_equal(sc_err(sc(e, "create_node_contract", &e->alice, &b)),
			    "ContractIsNotUnique");

	b = contract_args(1, 0xab, 16385, 0);
	assert_string_equal(sc_err(sc(e, "create_node_contract", &e->alice, &b)),
			    "DeploymentDataTooLong");
	b = contract_args(9, 0xab, 10, 0);
	assert_string_equal(sc_err(sc(e, "create_node_contract", &e->alice, &b)),
			    "NodeNotExists");
	b = contract_args(1, 0xab, 10, 0);
	assert_string_equal(sc_err(sc(e, "create_node_contract", &e->eve, &b)), "TwinNotExists");
	b = contract_args(1, 0xab, 10, 3);
	assert_string_equal(sc_err(sc(e, "create_node_contract", &e->alice, &b)),
			    "FarmHasNotEnoughPublicIPs");
	assert_int_equal(dev_get_u64(&e->ctx, DEV_SC_PALLET, "ContractID", NULL, 0, &id), 0);
	assert_int_equal(id, 1);
}

static void test_deploy_auth_and_cancel(void **state)
{
	struct env *e = *state;
	struct zbuf b;

	b = contract_args(1, 1, 10, 0);
	assert_int_equal(sc(e, "create_node_contract", &e->alice, &b), 0);
	/* Only node 1's twin may deploy; bob has no node at all. */
	b = id_args(1);
	assert_string_equal(sc_err(sc(e, "set_contract_deployed", &e->dave, &b)),
			    "NodeNotAuthorizedToDeployContract");
	b = id_args(1);
	assert_string_equal(sc_err(sc(e, "set_contract_deployed", &e->bob, &b)),
			    "NodeNotExists");
	b = id_args(5);
	assert_string_equal(sc_err(sc(e, "set_contract_deployed", &e->charlie, &b)),
			    "ContractNotExists");
	size_t ev = e->ctx.events.len;
	b = id_args(1);
	assert_int_equal(sc(e, "set_contract_deployed", &e->charlie, &b), 0);
	assert_int_equal(contract_state(e, 1, NULL), DEV_CONTRACT_DEPLOYED);
	assert_true(has_u64_event(e, ev, SC_EV_CONTRACT_DEPLOYED, 1));
	b = id_args(1);
	assert_string_equal(sc_err(sc(e, "set_contract_deployed", &e->charlie, &b)),
			    "ContractWrongState");

	/* Cancel: only the owner twin. */
	b = id_args(1);
	assert_string_equal(sc_err(sc(e, "cancel_contract", &e->bob, &b)),
			    "TwinNotAuthorizedToCancelContract");
	b = id_args(1);
	assert_string_equal(sc_err(sc(e, "cancel_contract", &e->charlie, &b)),
			    "TwinNotAuthorizedToCancelContract");
	ev = e->ctx.events.len;
	b = id_args(1);
	assert_int_equal(sc(e, "cancel_contract", &e->alice, &b), 0);
	assert_int_equal(contract_state(e, 1, NULL), ZE_ABSENT);
	assert_int_equal(active_contracts(e, 1, NULL), 0);
	uint8_t p[16];
	dev_le64(p, 1);
	dev_le32(p + 8, 1);
	dev_le32(p + 12, 1);
	assert_true(has_event(e, ev, DEV_SC_INDEX, SC_EV_NODE_CONTRACT_CANCELED, p, 16));
	/* The deletion was announced with its cause: Deleted(CanceledByUser). */
	assert_true(has_event(e, ev, DEV_SC_INDEX, SC_EV_CONTRACT_UPDATED,
			      "\x04\x00\x00\x00\x01\x00", 6));
	b = id_args(1);
	assert_string_equal(sc_err(sc(e, "cancel_contract", &e->alice, &b)), "ContractNotExists");
}

static void test_reject(void **state)
{
	struct env *e = *state;
	struct zbuf b;

	b = contract_args(1, 2, 10, 0);
	assert_int_equal(sc(e, "create_node_contract", &e->alice, &b), 0);
	b = id_args(1);
	put_str(&b, "no capacity");
	assert_string_equal(sc_err(sc(e, "reject_contract", &e->dave, &b)),
			    "NodeNotAuthorizedToDeployContract");
	assert_int_equal(contract_state(e, 1, NULL), DEV_CONTRACT_CREATED);
	size_t ev = e->ctx.events.len;
	b = id_args(1);
	put_str(&b, "no capacity");
	assert_int_equal(sc(e, "reject_contract", &e->charlie, &b), 0);
	assert_int_equal(contract_state(e, 1, NULL), ZE_ABSENT);
	assert_int_equal(active_contracts(e, 1, NULL), 0);
	assert_true(has_event(e, ev, DEV_SC_INDEX, SC_EV_CONTRACT_UPDATED,
			      "\x04\x00\x00\x00\x01\x03", 6));
	uint8_t p[16 + 1 + 11];
	dev_le64(p, 1);
	dev_le32(p + 8, 1);
	dev_le32(p + 12, 1);
	p[16] = 11 << 2;
	memcpy(p + 17, "no capacity", 11);
	assert_true(has_event(e, ev, DEV_SC_INDEX, SC_EV_CONTRACT_REJECTED, p, sizeof(p)));
	/* A deployed contract can no longer be rejected. */
	uint64_t id = deployed_contract(e, 3);
	b = id_args(id);
	put_str(&b, "late");
	assert_string_equal(sc_err(sc(e, "reject_contract", &e->charlie, &b)),
			    "ContractWrongState");
}

static void test_public_ips(void **state)
{
	struct env *e = *state;
	struct zbuf b;
	struct dev_farm f;
	struct dev_contract c;

	b = contract_args(1, 4, 10, 2);
	assert_int_equal(sc(e, "create_node_contract", &e->alice, &b), 0);
	assert_int_equal(contract_state(e, 1, &c), DEV_CONTRACT_CREATED);
	assert_int_equal(c.npublic_ips_list, 2);
	assert_int_equal(c.public_ips_list[0].contract_id, 1);
	assert_int_equal(dev_farm_get(&e->ctx, 1, &f), 0);
	assert_int_equal(f.public_ips[0].contract_id, 1);
	assert_int_equal(f.public_ips[1].contract_id, 1);
	b = contract_args(2, 5, 10, 1);
	assert_string_equal(sc_err(sc(e, "create_node_contract", &e->alice, &b)),
			    "FarmHasNotEnoughPublicIPsFree");
	b = id_args(1);
	assert_int_equal(sc(e, "cancel_contract", &e->alice, &b), 0);
	assert_int_equal(dev_farm_get(&e->ctx, 1, &f), 0);
	assert_int_equal(f.public_ips[0].contract_id, 0);
	assert_int_equal(f.public_ips[1].contract_id, 0);
	b = contract_args(2, 5, 10, 1);
	assert_int_equal(sc(e, "create_node_contract", &e->alice, &b), 0);
}

/* ---- Billing -------------------------------------------------------------------- */

/* std_report over one hour: (0.5 su * 50000 + 1 cu * 100000) + 1 GB * 15000
 * = 140000 units USD = 0.014 USD = 0.28 TFT at 0.05 USD/TFT. */
#define STD_HOUR_PLANCK 2800000u

static void test_billing_report(void **state)
{
	struct env *e = *state;
	uint64_t id = deployed_contract(e, 7);
	uint64_t t_deploy = T0_MS / 1000;
	dev_balance a0 = balance(e, &e->alice), b0 = balance(e, &e->bob);
	struct zbuf b;

	next_block(e, 3600);
	size_t ev = e->ctx.events.len;
	struct report r = std_report(id, t_deploy + 3600);
	b = reports_args(1, &r);
	assert_int_equal(sc(e, "add_reports", &e->charlie, &b), 0);
	assert_true(a0 - balance(e, &e->alice) == STD_HOUR_PLANCK);
	assert_true(balance(e, &e->bob) - b0 == STD_HOUR_PLANCK);
	uint8_t bill[33];
	dev_le64(bill, id);
	dev_le64(bill + 8, t_deploy + 3600);
	bill[16] = 0;
	memset(bill + 17, 0, 16);
	dev_le64(bill + 17, STD_HOUR_PLANCK);
	assert_true(has_event(e, ev, DEV_SC_INDEX, SC_EV_CONTRACT_BILLED, bill, sizeof(bill)));
	assert_true(has_u64_event(e, ev, SC_EV_CONSUMPTION_REPORT_RECEIVED, id));
	struct dev_billing_info info;
	assert_int_equal(dev_billing_info_get(&e->ctx, id, &info), 0);
	assert_int_equal(info.last_updated, t_deploy + 3600);
	assert_int_equal(info.amount_unbilled, 0);

	/* The same timestamp again, an older one, and one from the future
	 * are ignored: nothing billed, no report event. */
	next_block(e, 60);
	ev = e->ctx.events.len;
	struct report stale[3] = {std_report(id, t_deploy + 3600), std_report(id, t_deploy + 10),
				  std_report(id, t_deploy + 3600 + 61)};
	b = reports_args(3, stale);
	assert_int_equal(sc(e, "add_reports", &e->charlie, &b), 0);
	assert_true(a0 - balance(e, &e->alice) == STD_HOUR_PLANCK);
	assert_false(has_u64_event(e, ev, SC_EV_CONSUMPTION_REPORT_RECEIVED, id));

	/* 60 s later: 125000 * 60 / 3600 = 2083.3 -> 2084 units + 15000 for
	 * the traffic = 17084 units = 341680 planck. */
	r = std_report(id, t_deploy + 3660);
	b = reports_args(1, &r);
	assert_int_equal(sc(e, "add_reports", &e->charlie, &b), 0);
	assert_true(a0 - balance(e, &e->alice) == STD_HOUR_PLANCK + 341680u);

	/* Only the contract's node reports for it. */
	r = std_report(id, t_deploy + 3660 + 1);
	b = reports_args(1, &r);
	assert_string_equal(sc_err(sc(e, "add_reports", &e->dave, &b)),
			    "NodeNotAuthorizedToComputeReport");
	b = reports_args(1, &r);
	assert_string_equal(sc_err(sc(e, "add_reports", &e->bob, &b)), "NodeNotExists");
	/* Reports are free of fees. */
	for (size_t i = 0; i < dev_pallet_smartcontract.ncalls; i++)
		if (!strcmp(dev_pallet_smartcontract.calls[i].name, "add_reports"))
			assert_true(dev_pallet_smartcontract.calls[i].flags & DEV_CALL_FREE);
}

static void test_report_before_deploy(void **state)
{
	struct env *e = *state;
	struct zbuf b = contract_args(1, 8, 10, 0);
	assert_int_equal(sc(e, "create_node_contract", &e->alice, &b), 0);
	dev_balance a0 = balance(e, &e->alice);
	next_block(e, 600);
	struct report r = std_report(1, T0_MS / 1000 + 600);
	b = reports_args(1, &r);
	assert_int_equal(sc(e, "add_reports", &e->charlie, &b), 0);
	assert_true(balance(e, &e->alice) == a0);
	/* Deployment starts the billing window. */
	b = id_args(1);
	assert_int_equal(sc(e, "set_contract_deployed", &e->charlie, &b), 0);
	next_block(e, 3600);
	r = std_report(1, T0_MS / 1000 + 600 + 3600);
	b = reports_args(1, &r);
	assert_int_equal(sc(e, "add_reports", &e->charlie, &b), 0);
	assert_true(a0 - balance(e, &e->alice) == STD_HOUR_PLANCK);
}

static void test_grace_lifecycle(void **state)
{
	struct env *e = *state;
	uint64_t id = deployed_contract(e, 9);
	uint64_t t = T0_MS / 1000;
	struct dev_contract c;
	struct zbuf b;

	/* Alice can no longer pay: GracePeriod(block) and the debt is kept. */
	drain_alice(e, 1000000);
	next_block(e, 3600);
	uint32_t grace_start = e->ctx.number;
	size_t ev = e->ctx.events.len;
	struct report r = std_report(id, t + 3600);
	b = reports_args(1, &r);
	assert_int_equal(sc(e, "add_reports", &e->charlie, &b), 0);
	assert_int_equal(contract_state(e, id, &c), DEV_CONTRACT_GRACE_PERIOD);
	assert_int_equal(c.grace_block, grace_start);
	assert_true(balance(e, &e->alice) == 1000000);
	uint8_t p[24];
	dev_le64(p, id);
	dev_le32(p + 8, 1);
	dev_le32(p + 12, 1);
	dev_le64(p + 16, grace_start);
	assert_true(has_event(e, ev, DEV_SC_INDEX, SC_EV_CONTRACT_GRACE_PERIOD_STARTED, p, 24));
	struct dev_billing_info info;
	assert_int_equal(dev_billing_info_get(&e->ctx, id, &info), 0);
	assert_int_equal(info.amount_unbilled, 140000);

	/* Topped up in time: the next block collects the debt and the
	 * contract is Deployed again. */
	dev_ctx_call_begin(&e->ctx);
	assert_int_equal(dev_balance_deposit(&e->ctx, e->alice.pk, 10000000), 0);
	assert_int_equal(dev_ctx_call_commit(&e->ctx), 0);
	ev = e->ctx.events.len;
	next_block(e, 6);
	assert_int_equal(contract_state(e, id, NULL), DEV_CONTRACT_DEPLOYED);
	assert_true(balance(e, &e->alice) == 1000000 + 10000000 - STD_HOUR_PLANCK);
	assert_true(has_event(e, ev, DEV_SC_INDEX, SC_EV_CONTRACT_GRACE_PERIOD_ENDED, p, 16));
	assert_true(has_u64_event(e, ev, SC_EV_CONTRACT_BILLED, id));

	/* Out of funds again, never topped up: deleted after the grace
	 * period, and not one block earlier. */
	drain_alice(e, 1000);
	next_block(e, 3600);
	grace_start = e->ctx.number;
	r = std_report(id, t + 3600 + 6 + 3600);
	b = reports_args(1, &r);
	assert_int_equal(sc(e, "add_reports", &e->charlie, &b), 0);
	assert_int_equal(contract_state(e, id, NULL), DEV_CONTRACT_GRACE_PERIOD);
	for (int i = 1; i < GRACE_BLOCKS; i++) {
		next_block(e, 6);
		assert_int_equal(contract_state(e, id, NULL), DEV_CONTRACT_GRACE_PERIOD);
	}
	ev = e->ctx.events.len;
	next_block(e, 6);
	assert_int_equal(e->ctx.number - grace_start, GRACE_BLOCKS);
	assert_int_equal(contract_state(e, id, NULL), ZE_ABSENT);
	assert_int_equal(active_contracts(e, 1, NULL), 0);
	assert_true(has_event(e, ev, DEV_SC_INDEX, SC_EV_NODE_CONTRACT_CANCELED, p, 16));
	dev_le64(p, id);
	assert_true(has_event(e, ev, DEV_SC_INDEX, SC_EV_CONTRACT_UPDATED,
			      "\x04\x00\x00\x00\x01\x01", 6));
	assert_int_equal(dev_billing_info_get(&e->ctx, id, &info), ZE_ABSENT);
	uint64_t *ids;
	size_t n;
	assert_int_equal(dev_get_u64_list(&e->ctx, DEV_SC_PALLET, "ContractsInGracePeriod", NULL,
					  0, &ids, &n),
			 0);
	assert_int_equal(n, 0);
	free(ids);
}

static void test_bill_history(void **state)
{
	struct env *e = *state;
	uint64_t id = deployed_contract(e, 10);
	uint64_t t = T0_MS / 1000;
	const unsigned nbills = DEV_BILL_HISTORY_MAX + 2;
	struct zbuf b;

	for (unsigned i = 1; i <= nbills; i++) {
		next_block(e, 3600);
		struct report r = std_report(id, t + 3600u * i);
		b = reports_args(1, &r);
		assert_int_equal(sc(e, "add_reports", &e->charlie, &b), 0);
	}
	uint8_t k[8];
	struct zbuf key = args(), val = args();
	dev_le64(k, id);
	assert_int_equal(dev_key(DEV_SC_PALLET, "ContractBillHistory", k, 8, NULL, 0, &key), 0);
	assert_int_equal(dev_storage_get(&e->ctx, key.data, key.len, &val), 0);
	struct scale_rd rd;
	size_t n;
	scale_rd_init(&rd, val.data, val.len);
	assert_int_equal(scale_get_len(&rd, 1000, 33, &n), 0);
	/* The newest bills are kept, oldest first: bills 3..nbills. */
	assert_int_equal(n, DEV_BILL_HISTORY_MAX);
	for (size_t i = 0; i < n; i++) {
		struct dev_contract_bill cb;
		assert_int_equal(dev_contract_bill_decode(&rd, &cb), 0);
		assert_int_equal(cb.contract_id, id);
		assert_int_equal(cb.timestamp, t + 3600u * (i + 3));
		assert_true(cb.amount_billed == STD_HOUR_PLANCK);
	}
	assert_int_equal(scale_rd_left(&rd), 0);
	zbuf_free(&key);
	zbuf_free(&val);
}

/* ---- Codecs ------------------------------------------------------------------ */

/* Decodes every strict prefix of an encoding (all must fail without
 * leaking) and the whole (must succeed, consuming everything). */
#define CHECK_PREFIXES(T, dec, clear, buf)                                     \
	do {                                                                   \
		for (size_t cut = 0; cut <= (buf).len; cut++) {                \
			T *o_ = calloc(1, sizeof(T));                          \
			struct scale_rd rd_;                                   \
			assert_non_null(o_);                                   \
			scale_rd_init(&rd_, (buf).data, cut);                  \
			int rc_ = dec(&rd_, o_);                               \
			if (cut < (buf).len)                                   \
				assert_int_not_equal(rc_, 0);                  \
			else                                                   \
				assert_true(rc_ == 0 && scale_rd_left(&rd_) == 0); \
			clear(o_);                                             \
			free(o_);                                              \
		}                                                              \
	} while (0)

static void no_clear(void *p)
{
	(void)p;
}

static void contract_clear(struct dev_contract *c)
{
	dev_contract_clear(c);
}

static void test_codecs(void **state)
{
	(void)state;
	struct dev_node *n = calloc(1, sizeof(*n)), *n2 = calloc(1, sizeof(*n2));
	struct dev_farm *f = calloc(1, sizeof(*f)), *f2 = calloc(1, sizeof(*f2));
	struct dev_contract c, c2;
	struct dev_twin t, t2;
	struct zbuf b1 = args(), b2 = args();
	struct scale_rd rd;

	assert_true(n && n2 && f && f2);
	/* A node with every optional part present. */
	n->version = 6;
	n->id = 9;
	n->resources = (struct dev_resources){1, 2, 3, 4};
	dev_str_set(&n->location.city, "Ghent", 5);
	n->has_public_config = 1;
	dev_str_set(&n->public_config.ip4_ip, "1.2.3.4/24", 10);
	n->public_config.has_ip6 = 1;
	n->public_config.has_domain = 1;
	dev_str_set(&n->public_config.domain, "node.grid", 9);
	n->ninterfaces = 2;
	n->interfaces[1].nips = 3;
	n->certification = DEV_NODE_CERTIFIED;
	n->virtualized = 1;
	n->has_serial_number = 1;
	n->connection_price = 80;
	assert_int_equal(dev_node_encode(n, &b1), 0);
	scale_rd_init(&rd, b1.data, b1.len);
	assert_int_equal(dev_node_decode(&rd, n2), 0);
	assert_int_equal(dev_node_encode(n2, &b2), 0);
	assert_int_equal(b1.len, b2.len);
	assert_memory_equal(b1.data, b2.data, b1.len);
	CHECK_PREFIXES(struct dev_node, dev_node_decode, no_clear, b1);
	/* Certification 2 does not exist. It sits before secure_boot,
	 * virtualized, Some(empty serial) (2 bytes) and connection_price. */
	assert_int_equal(b1.data[b1.len - 9], DEV_NODE_CERTIFIED);
	b1.data[b1.len - 9] = 2;
	scale_rd_init(&rd, b1.data, b1.len);
	assert_int_equal(dev_node_decode(&rd, n2), ZE_MALFORMED);
	zbuf_reset(&b1);
	zbuf_reset(&b2);

	f->npublic_ips = DEV_FARM_IPS_MAX;
	f->has_limits = 1;
	f->limits.cu = (struct dev_opt_u64){1, 7};
	f->limits.has_node_count = 1;
	assert_int_equal(dev_farm_encode(f, &b1), 0);
	CHECK_PREFIXES(struct dev_farm, dev_farm_decode, no_clear, b1);
	/* One public IP more than the bound: refused, not overflowed. */
	zbuf_reset(&b1);
	f->npublic_ips = 0;
	f->has_limits = 0;
	assert_int_equal(dev_farm_encode(f, &b1), 0);
	size_t ips_at = 4 + 4 + 1 + 4 + 4 + 1;
	b1.data[ips_at] = (uint8_t)((DEV_FARM_IPS_MAX + 1) << 2);
	scale_rd_init(&rd, b1.data, b1.len);
	assert_int_equal(dev_farm_decode(&rd, f2), ZE_TOOBIG);
	zbuf_reset(&b1);

	memset(&t, 0, sizeof(t));
	t.id = 3;
	t.has_relay = 1;
	t.relay_len = DEV_RELAY_MAX;
	t.nentities = 1;
	t.has_pk = 1;
	t.pk.len = 32;
	assert_int_equal(dev_twin_encode(&t, &b1), 0);
	scale_rd_init(&rd, b1.data, b1.len);
	assert_int_equal(dev_twin_decode(&rd, &t2), 0);
	assert_int_equal(t2.relay_len, DEV_RELAY_MAX);
	CHECK_PREFIXES(struct dev_twin, dev_twin_decode, no_clear, b1);
	zbuf_reset(&b1);

	/* Contracts in every state, with data and IPs; bad tags refused. */
	static const uint8_t states[][2] = {{DEV_CONTRACT_CREATED, 0},
					    {DEV_CONTRACT_DELETED, DEV_CAUSE_DEPLOYMENT_FAILED},
					    {DEV_CONTRACT_GRACE_PERIOD, 0},
					    {DEV_CONTRACT_DEPLOYED, 0}};
	for (size_t i = 0; i < 4; i++) {
		memset(&c, 0, sizeof(c));
		c.version = 4;
		c.state = states[i][0];
		c.cause = states[i][1];
		c.grace_block = 77;
		c.contract_id = 5;
		c.deployment_data = malloc(300);
		assert_non_null(c.deployment_data);
		memset(c.deployment_data, 0x5a, 300);
		c.deployment_data_len = 300;
		c.npublic_ips_list = 1;
		c.has_solution_provider = 1;
		assert_int_equal(dev_contract_encode(&c, &b1), 0);
		memset(&c2, 0, sizeof(c2));
		scale_rd_init(&rd, b1.data, b1.len);
		assert_int_equal(dev_contract_decode(&rd, &c2), 0);
		assert_int_equal(c2.state, c.state);
		assert_int_equal(c2.deployment_data_len, 300);
		assert_int_equal(dev_contract_encode(&c2, &b2), 0);
		assert_memory_equal(b1.data, b2.data, b1.len);
		CHECK_PREFIXES(struct dev_contract, dev_contract_decode, contract_clear, b1);
		dev_contract_clear(&c);
		dev_contract_clear(&c2);
		zbuf_reset(&b1);
		zbuf_reset(&b2);
	}
	static const uint8_t bad_state[] = {4, 0, 0, 0, 4};
	static const uint8_t bad_cause[] = {4, 0, 0, 0, 1, 4};
	memset(&c2, 0, sizeof(c2));
	scale_rd_init(&rd, bad_state, sizeof(bad_state));
	assert_int_equal(dev_contract_decode(&rd, &c2), ZE_MALFORMED);
	scale_rd_init(&rd, bad_cause, sizeof(bad_cause));
	assert_int_equal(dev_contract_decode(&rd, &c2), ZE_MALFORMED);

	zbuf_free(&b1);
	zbuf_free(&b2);
	free(n);
	free(n2);
	free(f);
	free(f2);
}

/* Runs one pallet's genesis hook on a fresh state; for SmartContractModule
 * *price and *grace get what it stored. */
static int run_genesis(const struct dev_pallet *p, const char *json, uint32_t *price,
		       uint64_t *grace)
{
	struct dev_store *st;
	struct dev_params params = {DEV_EXISTENTIAL_DEPOSIT, DEV_FEE_BASE, DEV_FEE_PER_BYTE};
	struct dev_ctx ctx;
	cJSON *sec = json ? cJSON_Parse(json) : NULL;
	int rc;

	assert_true(!json || sec);
	assert_int_equal(dev_store_open(":memory:", &st), 0);
	dev_ctx_init(&ctx, st, 0, 0, &params);
	rc = p->genesis(&ctx, sec);
	if (rc == 0 && price) {
		assert_int_equal(dev_get_u32(&ctx, DEV_SC_PALLET, "TftPrice", NULL, 0, price), 0);
		assert_int_equal(dev_get_u64(&ctx, DEV_SC_PALLET, "GracePeriodBlocks", NULL, 0,
					     grace),
				 0);
	}
	dev_ctx_free(&ctx);
	dev_store_close(st);
	cJSON_Delete(sec);
	return rc;
}

static void test_genesis_sections(void **state)
{
	(void)state;
	const struct dev_pallet *sc = &dev_pallet_smartcontract, *tg = &dev_pallet_tfgrid;
	uint32_t price = 0;
	uint64_t grace = 0;

	assert_int_equal(run_genesis(sc, NULL, &price, &grace), 0);
	assert_int_equal(price, DEV_DEFAULT_TFT_PRICE_MUSD);
	assert_int_equal(grace, DEV_DEFAULT_GRACE_PERIOD_BLOCKS);
	assert_int_equal(run_genesis(sc, "{\"tft_price_musd\": 20, \"grace_period_blocks\": 7}",
				     &price, &grace),
			 0);
	assert_int_equal(price, 20);
	assert_int_equal(grace, 7);
	assert_int_equal(run_genesis(sc, "{\"tft_price_musd\": 0}", NULL, NULL), ZE_CONFIG);
	assert_int_equal(run_genesis(sc, "{\"grace_period_blocks\": -1}", NULL, NULL), ZE_CONFIG);
	assert_int_equal(run_genesis(sc, "{\"max_deployment_data\": 100000000}", NULL, NULL),
			 ZE_CONFIG);
	assert_int_equal(run_genesis(tg, NULL, NULL, NULL), 0);
	assert_int_equal(run_genesis(tg,
				     "{\"pricing_policy_admin\": \"//Alice\", \"pricing_policy\":"
				     " {\"su\": {\"value\": 1, \"unit\": \"Terrabytes\"}}}",
				     NULL, NULL),
			 0);
	assert_int_equal(run_genesis(tg, "{\"pricing_policy\": {\"su\": {\"unit\": \"PB\"}}}",
				     NULL, NULL),
			 ZE_CONFIG);
	assert_int_equal(run_genesis(tg, "{\"pricing_policy_admin\": \"nobody\"}", NULL, NULL),
			 ZE_CONFIG);
	assert_int_equal(run_genesis(tg, "{\"connection_price\": 1.5}", NULL, NULL), ZE_CONFIG);
}

/* The metadata describes exactly the calls the pallets dispatch: the
 * framework refuses a description that disagrees with the dispatch table
 * and checks incoming calls against the described argument types. */
static void test_metadata_calls(void **state)
{
	(void)state;
	struct dev_meta *m;
	struct zbuf call = args();

	assert_int_equal(dev_meta_build(dev_pallets, dev_npallets, &m), 0);
	scale_put_u8(&call, DEV_SC_INDEX);
	scale_put_u8(&call, 0);
	struct zbuf a = contract_args(1, 1, 100, 0);
	zbuf_put(&call, a.data, a.len);
	zbuf_free(&a);
	assert_int_equal(dev_meta_check_call(m, call.data, call.len), 0);
	assert_int_equal(dev_meta_check_call(m, call.data, call.len - 1), ZE_MALFORMED);

	zbuf_reset(&call);
	scale_put_u8(&call, DEV_SC_INDEX);
	scale_put_u8(&call, 3);
	struct report r = std_report(1, 2);
	a = reports_args(1, &r);
	zbuf_put(&call, a.data, a.len);
	zbuf_free(&a);
	assert_int_equal(dev_meta_check_call(m, call.data, call.len), 0);

	zbuf_reset(&call);
	scale_put_u8(&call, DEV_TFGRID_INDEX);
	scale_put_u8(&call, 8);
	a = node_args(0, 1, 4);
	zbuf_put(&call, a.data, a.len);
	zbuf_free(&a);
	assert_int_equal(dev_meta_check_call(m, call.data, call.len), 0);
	zbuf_free(&call);
	dev_meta_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_grid_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grid_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contract_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deploy_auth_and_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_public_ips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_billing_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_before_deploy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grace_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bill_history, setup, teardown),
		cmocka_unit_test(test_metadata_calls),
		cmocka_unit_test(test_genesis_sections),
		cmocka_unit_test(test_codecs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
