/*
 * Typed accessors and storage reads against a fake node serving the real
 * tfchain metadata: values encoded per the fixture's types decode by field
 * name; absent stays absent; a different layout fails loudly; events and
 * dispatch errors are named.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client.h"
#include "chainclient/grid.h"
#include "common/key.h"
#include "common/zerr.h"
#include "fake_chain.h"

struct fx {
	struct fchain fc;
	struct chain_client *c;
	struct zkey alice;
};

static int setup(void **st)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct chain_client_opts co;

	if (!f || fc_start(&f->fc, fc_fixture()) != 0)
		return -1;
	chain_client_opts_default(&co);
	co.rpc.retries = 0;
	if (chain_client_new(f->fc.srv.url, &co, &f->c) != 0 || key_dev("alice", &f->alice) != 0)
		return -1;
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fx *f = *st;
	chain_client_free(f->c);
	fc_stop(&f->fc);
	key_wipe(&f->alice);
	free(f);
	return 0;
}

/* Stores json (per the fixture's value type) under pallet.item[key]. */
static void put(struct fx *f, const char *pallet, const char *item, const uint8_t *key,
		size_t klen, const char *json, int truncate)
{
	const struct meta_storage *s = meta_storage(meta_pallet(f->fc.meta, pallet), item);
	struct zbuf k, v;
	cJSON *j = cJSON_Parse(json);

	assert_non_null(s);
	assert_non_null(j);
	zbuf_init(&k, 0);
	zbuf_init(&v, 0);
	assert_int_equal(meta_storage_key(f->fc.meta, pallet, item, key ? 1 : 0, &key, &klen, &k), 0);
	assert_int_equal(meta_from_json(f->fc.meta, s->value_type, j, &v), 0);
	fc_set(&f->fc, k.data, k.len, v.data, v.len - (truncate ? 1 : 0));
	zbuf_free(&k);
	zbuf_free(&v);
	cJSON_Delete(j);
}

static void le32(uint32_t x, uint8_t b[4])
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(x >> (8 * i));
}

static char *twin_json(struct fx *f, uint32_t id)
{
	char acc[67];
	hex_encode(f->alice.pk, 32, 1, acc, sizeof(acc));
	/* relay "relay.grid" as bytes; pk 32 bytes of 0x42. */
	return fake_printf("{\"id\":%u,\"account_id\":\"%s\",\"relay\":\"0x72656c61792e67726964\","
			   "\"entities\":[],\"pk\":\"0x%s\"}",
			   id, acc,
			   "4242424242424242424242424242424242424242424242424242424242424242");
}

static void twin_by_id_and_account(void **st)
{
	struct fx *f = *st;
	struct grid_twin t;
	uint8_t k[4];
	uint32_t id;
	char *j = twin_json(f, 7);

	le32(7, k);
	put(f, "TfgridModule", "Twins", k, 4, j, 0);
	put(f, "TfgridModule", "TwinIdByAccountID", f->alice.pk, 32, "7", 0);
	free(j);
	assert_int_equal(grid_twin(f->c, 7, &t), 0);
	assert_int_equal(t.id, 7);
	assert_memory_equal(t.account, f->alice.pk, 32);
	assert_true(t.has_relay);
	assert_string_equal(t.relay, "relay.grid");
	assert_int_equal(t.pk_len, 32);
	assert_int_equal(t.pk[31], 0x42);
	assert_int_equal(grid_twin_id_by_account(f->c, f->alice.pk, &id), 0);
	assert_int_equal(id, 7);
	memset(&t, 0, sizeof(t));
	assert_int_equal(grid_twin_by_account(f->c, f->alice.pk, &t), 0);
	assert_int_equal(t.id, 7);
	/* Nothing stored is a confirmed absence, not an error. */
	assert_int_equal(grid_twin(f->c, 8, &t), ZE_ABSENT);
	f->alice.pk[0] ^= 1;
	assert_int_equal(grid_twin_id_by_account(f->c, f->alice.pk, &id), ZE_ABSENT);
}

static void account_defaults_and_values(void **st)
{
	struct fx *f = *st;
	struct grid_account a;
	char *j;

	/* System.Account is a ValueQuery: a fresh account reads as zeros. */
	assert_int_equal(grid_account(f->c, f->alice.pk, &a), 0);
	assert_int_equal(a.nonce, 0);
	assert_true(a.free == 0);
	j = fake_printf("{\"nonce\":5,\"consumers\":0,\"providers\":1,\"sufficients\":0,\"data\":{"
			"\"free\":\"340282366920938463463374607431768211455\",\"reserved\":2,"
			"\"misc_frozen\":3,\"fee_frozen\":0}}");
	put(f, "System", "Account", f->alice.pk, 32, j, 0);
	free(j);
	assert_int_equal(grid_account(f->c, f->alice.pk, &a), 0);
	assert_int_equal(a.nonce, 5);
	assert_true(a.free == ~(scale_u128)0);
	assert_true(a.reserved == 2);
	assert_true(a.frozen == 3);
}

static void contract_and_active_list(void **st)
{
	struct fx *f = *st;
	struct grid_contract c;
	uint8_t k[8] = {12}, nk[4];
	uint64_t *ids;
	size_t n;

	put(f, "SmartContractModule", "Contracts", k, 8,
	    "{\"version\":4,\"state\":{\"GracePeriod\":99},\"contract_id\":12,\"twin_id\":7,"
	    "\"contract_type\":{\"NodeContract\":{\"node_id\":3,\"deployment_hash\":\"0x"
	    "1111111111111111111111111111111111111111111111111111111111111111\","
	    "\"deployment_data\":\"0xdeadbeef\",\"public_ips\":1,\"public_ips_list\":[]}},"
	    "\"solution_provider_id\":null}",
	    0);
	assert_int_equal(grid_contract(f->c, 12, &c), 0);
	assert_int_equal(c.version, 4);
	assert_int_equal(c.state, GRID_CONTRACT_GRACE_PERIOD);
	assert_int_equal(c.grace_block, 99);
	assert_int_equal(c.contract_id, 12);
	assert_int_equal(c.twin_id, 7);
	assert_int_equal(c.type, GRID_NODE_CONTRACT);
	assert_int_equal(c.node_id, 3);
	assert_int_equal(c.deployment_hash[0], 0x11);
	assert_int_equal(c.deployment_data_len, 4);
	assert_int_equal(c.deployment_data[0], 0xde);
	assert_int_equal(c.public_ips, 1);
	assert_false(c.has_solution_provider);
	grid_contract_clear(&c);
	assert_int_equal(grid_contract(f->c, 13, &c), ZE_ABSENT);

	le32(3, nk);
	assert_int_equal(grid_active_contracts(f->c, 3, &ids, &n), 0);
	assert_int_equal(n, 0); /* ValueQuery: empty when nothing stored */
	put(f, "SmartContractModule", "ActiveNodeContracts", nk, 4, "[12, \"18446744073709551615\"]", 0);
	assert_int_equal(grid_active_contracts(f->c, 3, &ids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 12);
	assert_true(ids[1] == UINT64_MAX);
	free(ids);
}

static void node_farm_policy(void **st)
{
	struct fx *f = *st;
	struct grid_node nd;
	struct grid_farm fm;
	struct grid_pricing_policy pp;
	uint8_t k[4];
	uint32_t id;
	char acc[67], *j;

	le32(3, k);
	put(f, "TfgridModule", "Nodes", k, 4,
	    "{\"version\":6,\"id\":3,\"farm_id\":1,\"twin_id\":9,\"resources\":{\"hru\":100,"
	    "\"sru\":200,\"cru\":4,\"mru\":8589934592},\"location\":{\"city\":\"0x\",\"country\":"
	    "\"0x\",\"latitude\":\"0x\",\"longitude\":\"0x\"},\"public_config\":null,\"created\":1,"
	    "\"farming_policy_id\":1,\"interfaces\":[],\"certification\":\"Diy\","
	    "\"secure_boot\":false,\"virtualized\":false,\"serial_number\":null,"
	    "\"connection_price\":80}",
	    0);
	le32(9, k);
	put(f, "TfgridModule", "NodeIdByTwinID", k, 4, "3", 0);
	assert_int_equal(grid_node_by_twin(f->c, 9, &nd), 0);
	assert_int_equal(nd.id, 3);
	assert_int_equal(nd.twin_id, 9);
	assert_int_equal(nd.cru, 4);
	assert_true(nd.mru == 8589934592ull);
	/* NodeIdByTwinID stores 0 for "no node" (a ValueQuery default). */
	assert_int_equal(grid_node_id_by_twin(f->c, 10, &id), ZE_ABSENT);

	le32(1, k);
	put(f, "TfgridModule", "Farms", k, 4,
	    "{\"version\":4,\"id\":1,\"name\":\"0x6661726d31\",\"twin_id\":2,\"pricing_policy_id\":1,"
	    "\"certification\":\"NotCertified\",\"public_ips\":[],\"dedicated_farm\":false,"
	    "\"farming_policy_limits\":null}",
	    0);
	assert_int_equal(grid_farm(f->c, 1, &fm), 0);
	assert_string_equal(fm.name, "farm1");
	assert_int_equal(fm.twin_id, 2);
	assert_int_equal(fm.pricing_policy_id, 1);

	hex_encode(f->alice.pk, 32, 1, acc, sizeof(acc));
	j = fake_printf("{\"version\":1,\"id\":1,\"name\":\"0x70\",\"su\":{\"value\":50000,\"unit\":"
			"\"Gigabytes\"},\"cu\":{\"value\":100000,\"unit\":\"Gigabytes\"},\"nu\":{"
			"\"value\":15000,\"unit\":\"Gigabytes\"},\"ipu\":{\"value\":40000,\"unit\":"
			"\"Gigabytes\"},\"unique_name\":{\"value\":2500,\"unit\":\"Gigabytes\"},"
			"\"domain_name\":{\"value\":5000,\"unit\":\"Gigabytes\"},"
			"\"foundation_account\":\"%s\",\"certified_sales_account\":\"%s\","
			"\"discount_for_dedication_nodes\":50}",
			acc, acc);
	put(f, "TfgridModule", "PricingPolicies", k, 4, j, 0);
	free(j);
	assert_int_equal(grid_pricing_policy(f->c, 1, &pp), 0);
	assert_int_equal(pp.su.value, 50000);
	assert_string_equal(pp.cu.unit, "Gigabytes");
	assert_int_equal(pp.discount_for_dedication_nodes, 50);
	assert_memory_equal(pp.foundation_account, f->alice.pk, 32);
}

static void layout_mismatch_fails_loudly(void **st)
{
	struct fx *f = *st;
	struct grid_twin t;
	struct meta *m;
	uint8_t k[4];
	char *j = twin_json(f, 5);
	cJSON *v;
	struct zbuf b;

	/* Bytes that do not decode as the runtime's Twin: an error, never absent. */
	le32(5, k);
	put(f, "TfgridModule", "Twins", k, 4, j, 1);
	assert_int_equal(grid_twin(f->c, 5, &t), ZE_MALFORMED);

	/* A runtime whose Twin calls the key field differently: named, refused. */
	assert_int_equal(meta_load_file(fc_fixture(), &m), 0);
	const struct meta_storage *s = meta_storage(meta_pallet(m, "TfgridModule"), "Twins");
	struct meta_type *tw = &m->types[s->value_type];
	for (size_t i = 0; i < tw->nfields; i++)
		if (!strcmp(tw->fields[i].name, "pk"))
			tw->fields[i].name = "public_key";
	cJSON *in = cJSON_Parse(j);
	cJSON_AddItemToObject(in, "public_key", cJSON_DetachItemFromObject(in, "pk"));
	zbuf_init(&b, 0);
	assert_int_equal(meta_from_json(m, s->value_type, in, &b), 0);
	assert_int_equal(meta_to_json_buf(m, s->value_type, b.data, b.len, &v), 0);
	assert_int_equal(grid_twin_from_json(v, &t), ZE_UNSUPPORTED);
	cJSON_Delete(v);
	cJSON_Delete(in);
	zbuf_free(&b);
	meta_free(m);
	free(j);

	/* Items the runtime lacks are unsupported, not absent. */
	assert_int_equal(chain_get_json(f->c, "TfgridModule", "NoSuchItem", NULL, NULL, &v),
			 ZE_UNSUPPORTED);
	/* Keys that do not fit their type are refused before asking. */
	cJSON *keys = cJSON_Parse("[\"not a number\"]");
	assert_int_equal(chain_get_json(f->c, "TfgridModule", "Twins", keys, NULL, &v), -EINVAL);
	cJSON_Delete(keys);
}

static void events_and_dispatch_errors(void **st)
{
	struct fx *f = *st;
	struct chain_runtime *rt;
	cJSON *ev, *e;
	char name[128];
	uint8_t h[32];
	uint64_t n;

	pthread_mutex_lock(&f->fc.lock);
	f->fc.fail_pallet = 11;
	f->fc.fail_error = 27;
	f->fc.pool[0].hex = strdup("0x00");
	f->fc.pool[0].nonce = 0;
	f->fc.pool[0].pallet = 11;
	f->fc.npool = 1;
	pthread_mutex_unlock(&f->fc.lock);
	assert_int_equal(chain_finalized(f->c, &n, h), 0); /* mines block 1 */
	assert_int_equal(n, 1);
	assert_int_equal(chain_client_runtime(f->c, &rt), 0);
	assert_int_equal(chain_events(f->c, rt, h, &ev), 0);
	assert_int_equal(cJSON_GetArraySize(ev), 2);
	const cJSON *fail = chain_event_find(ev, "System", "ExtrinsicFailed");
	assert_non_null(fail);
	assert_int_equal(cJSON_GetObjectItem(fail, "index")->valueint, 1);
	assert_string_equal(cJSON_GetObjectItem(fail, "phase")->valuestring, "ApplyExtrinsic");
	const cJSON *de = cJSON_GetObjectItem(cJSON_GetObjectItem(fail, "data"), "dispatch_error");
	assert_int_equal(chain_dispatch_error_name(rt->meta, de, name, sizeof(name)), 0);
	assert_string_equal(name, "TfgridModule.TwinNotExists");
	cJSON_Delete(ev);

	e = cJSON_Parse("{\"Token\":\"NoFunds\"}");
	assert_int_equal(chain_dispatch_error_name(rt->meta, e, name, sizeof(name)), 0);
	assert_string_equal(name, "Token.NoFunds");
	cJSON_Delete(e);
	e = cJSON_Parse("\"BadOrigin\"");
	assert_int_equal(chain_dispatch_error_name(rt->meta, e, name, sizeof(name)), 0);
	assert_string_equal(name, "BadOrigin");
	cJSON_Delete(e);
	e = cJSON_Parse("{\"Module\":{\"index\":200,\"error\":\"0x01000000\"}}");
	assert_int_equal(chain_dispatch_error_name(rt->meta, e, name, sizeof(name)), 0);
	assert_string_equal(name, "Module(200).Error(1)");
	cJSON_Delete(e);
	chain_runtime_put(rt);
}

static void named_args_follow_the_runtime(void **st)
{
	struct fx *f = *st;
	struct chain_runtime *rt;
	uint8_t hash[32] = {1}, data[3] = {1, 2, 3};
	const char *which, *calls[2];
	cJSON *named, *args, *rargs[2];
	struct grid_report r = {.contract_id = 12, .timestamp = 1700000000, .window = 3600, .nru = 5};
	size_t n;
	struct zbuf b;

	assert_int_equal(chain_client_runtime(f->c, &rt), 0);
	named = grid_args_create_node_contract(3, hash, data, 3, 0);
	assert_int_equal(chain_call_args(rt->meta, "SmartContractModule", "create_node_contract",
					 named, &args, &which), 0);
	assert_int_equal(cJSON_GetArraySize(args), 5);
	assert_int_equal(cJSON_GetArrayItem(args, 0)->valueint, 3);
	zbuf_init(&b, 0);
	assert_int_equal(meta_encode_call(rt->meta, "SmartContractModule", "create_node_contract",
					  args, &b), 0);
	assert_int_equal(b.data[0], 12);
	zbuf_free(&b);
	cJSON_Delete(args);
	/* The 2023 runtime has no reject_contract: its argument is unknown. */
	cJSON_AddStringToObject(named, "reason", "0x00");
	assert_int_equal(chain_call_args(rt->meta, "SmartContractModule", "create_node_contract",
					 named, &args, &which), -EINVAL);
	assert_string_equal(which, "reason");
	cJSON_Delete(named);
	named = grid_args_contract_id(5);
	assert_int_equal(chain_call_args(rt->meta, "SmartContractModule", "reject_contract",
					 named, &args, &which), ZE_UNSUPPORTED);
	cJSON_Delete(named);
	named = grid_args_transfer(f->alice.pk, 10000000);
	assert_int_equal(chain_call_args(rt->meta, "Balances", "transfer", named, &args, &which), 0);
	zbuf_init(&b, 0);
	assert_int_equal(meta_encode_call(rt->meta, "Balances", "transfer", args, &b), 0);
	zbuf_free(&b);
	cJSON_Delete(args);
	cJSON_Delete(named);
	/* Every builder fits the 2023 runtime's calls. */
	struct grid_node_info ni = {.farm_id = 1, .cru = 4, .city = "Ghent", .country = "Belgium",
				    .latitude = "51", .longitude = "3", .serial_number = "X1"};
	struct {
		const char *pallet, *call;
		cJSON *args;
	} b2[] = {
		{"TfgridModule", "create_twin", grid_args_create_twin("relay", NULL, 0)},
		{"TfgridModule", "update_twin", grid_args_update_twin(NULL, hash, 32)},
		{"TfgridModule", "create_farm", grid_args_create_farm("farm")},
		{"TfgridModule", "create_node", grid_args_create_node(&ni)},
		{"TfgridModule", "update_node", grid_args_update_node(9, &ni)},
		{"SmartContractModule", "cancel_contract", grid_args_contract_id(5)},
	};
	for (size_t i = 0; i < sizeof(b2) / sizeof(b2[0]); i++) {
		assert_non_null(b2[i].args);
		assert_int_equal(chain_call_args(rt->meta, b2[i].pallet, b2[i].call, b2[i].args, &args,
						 &which), 0);
		zbuf_init(&b, 0);
		assert_int_equal(meta_encode_call(rt->meta, b2[i].pallet, b2[i].call, args, &b), 0);
		zbuf_free(&b);
		cJSON_Delete(args);
		cJSON_Delete(b2[i].args);
	}
	/* This runtime reports with report_contract_resources + add_nru_reports. */
	assert_int_equal(grid_report_calls(rt->meta, &r, 1, calls, rargs, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(calls[0], "report_contract_resources");
	assert_string_equal(calls[1], "add_nru_reports");
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(chain_call_args(rt->meta, "SmartContractModule", calls[i], rargs[i],
						 &args, &which), 0);
		zbuf_init(&b, 0);
		assert_int_equal(meta_encode_call(rt->meta, "SmartContractModule", calls[i], args, &b), 0);
		zbuf_free(&b);
		cJSON_Delete(args);
		cJSON_Delete(rargs[i]);
	}
	chain_runtime_put(rt);
}

static void upgrade_is_noticed_by_reads(void **st)
{
	struct fx *f = *st;
	struct chain_runtime *rt, *rt2;
	struct grid_account a;
	int changed;

	assert_int_equal(chain_client_runtime(f->c, &rt), 0);
	assert_int_equal(rt->spec_version, 100);
	pthread_mutex_lock(&f->fc.lock);
	f->fc.spec = 102;
	pthread_mutex_unlock(&f->fc.lock);
	/* Within the re-check interval the snapshot stays... */
	assert_int_equal(chain_client_runtime(f->c, &rt2), 0);
	assert_int_equal(rt2->spec_version, 100);
	chain_runtime_put(rt2);
	/* ...until a refresh (or the interval) notices the new version. */
	assert_int_equal(chain_client_refresh(f->c, &changed), 0);
	assert_true(changed);
	assert_int_equal(chain_client_runtime(f->c, &rt2), 0);
	assert_int_equal(rt2->spec_version, 102);
	/* The old snapshot stays valid for its holder. */
	assert_non_null(meta_pallet(rt->meta, "System"));
	chain_runtime_put(rt);
	chain_runtime_put(rt2);
	assert_int_equal(chain_client_refresh(f->c, &changed), 0);
	assert_false(changed);
	assert_int_equal(grid_account(f->c, f->alice.pk, &a), 0);
}

static void recheck_interval_notices_upgrade(void **st)
{
	struct fchain fc;
	struct chain_client_opts co;
	struct chain_client *c;
	struct chain_runtime *rt;

	assert_int_equal(fc_start(&fc, fc_fixture()), 0);
	chain_client_opts_default(&co);
	co.recheck_ms = -1; /* every use */
	assert_int_equal(chain_client_new(fc.srv.url, &co, &c), 0);
	assert_int_equal(chain_client_runtime(c, &rt), 0);
	assert_int_equal(rt->spec_version, 100);
	chain_runtime_put(rt);
	pthread_mutex_lock(&fc.lock);
	fc.spec = 103;
	fc.tx = 2;
	pthread_mutex_unlock(&fc.lock);
	assert_int_equal(chain_client_runtime(c, &rt), 0);
	assert_int_equal(rt->spec_version, 103);
	assert_int_equal(rt->tx_version, 2);
	chain_runtime_put(rt);
	chain_client_free(c);
	fc_stop(&fc);
}

struct reader {
	struct chain_client *c;
	int ok;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct chain_runtime *rt;

	for (int i = 0; i < 25; i++) {
		if (chain_client_runtime(r->c, &rt) != 0)
			continue;
		/* Use the snapshot while others may replace it. */
		if (meta_pallet(rt->meta, "System") && rt->spec_version >= 100)
			r->ok++;
		chain_runtime_put(rt);
	}
	return NULL;
}

static void snapshots_survive_concurrent_upgrades(void **st)
{
	struct fchain fc;
	struct chain_client_opts co;
	struct chain_client *c;
	struct reader r[3];
	pthread_t t[3];

	assert_int_equal(fc_start(&fc, fc_fixture()), 0);
	chain_client_opts_default(&co);
	co.recheck_ms = -1;
	assert_int_equal(chain_client_new(fc.srv.url, &co, &c), 0);
	/* Loaded once; later loads racing an upgrade keep serving a snapshot. */
	assert_int_equal(chain_client_refresh(c, NULL), 0);
	for (int i = 0; i < 3; i++) {
		r[i].c = c;
		r[i].ok = 0;
		assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
	}
	for (int i = 0; i < 10; i++) {
		pthread_mutex_lock(&fc.lock);
		fc.spec++;
		pthread_mutex_unlock(&fc.lock);
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(r[i].ok, 25);
	}
	chain_client_free(c);
	fc_stop(&fc);
}

int main(void)
{
	if (access(fc_fixture(), R_OK) != 0) {
		printf("skip: metadata fixture %s not found (set ZOS_FIXTURES_DIR)\n", fc_fixture());
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(twin_by_id_and_account, setup, teardown),
		cmocka_unit_test_setup_teardown(account_defaults_and_values, setup, teardown),
		cmocka_unit_test_setup_teardown(contract_and_active_list, setup, teardown),
		cmocka_unit_test_setup_teardown(node_farm_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(layout_mismatch_fails_loudly, setup, teardown),
		cmocka_unit_test_setup_teardown(events_and_dispatch_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(named_args_follow_the_runtime, setup, teardown),
		cmocka_unit_test_setup_teardown(upgrade_is_noticed_by_reads, setup, teardown),
		cmocka_unit_test(recheck_interval_notices_upgrade),
		cmocka_unit_test(snapshots_survive_concurrent_upgrades),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
