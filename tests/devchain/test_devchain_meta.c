/* The generated metadata, read back with chainclient's independent v14
 * decoder: every call the devchain dispatches is found by name. */
#include "devchain_testlib.h"

#include "common/hex.h"
#include "devchain/metagen.h"

static struct dev_chain *chain;
static struct meta *m;

static int setup(void **st)
{
	size_t len;
	chain = tl_open(":memory:");
	const uint8_t *p = dev_chain_metadata(chain, &len);
	assert_memory_equal(p, "meta", 4);
	assert_int_equal(p[4], 14);
	assert_int_equal(meta_decode(p, len, &m), 0);
	return 0;
}

static int teardown(void **st)
{
	meta_free(m);
	dev_chain_close(chain);
	return 0;
}

static void every_dispatched_call_is_described(void **st)
{
	for (size_t i = 0; i < dev_npallets; i++) {
		const struct dev_pallet *p = dev_pallets[i];
		const struct meta_pallet *mp = meta_pallet(m, p->name);
		assert_non_null(mp);
		assert_int_equal(mp->index, p->index);
		for (size_t j = 0; j < p->ncalls; j++) {
			const struct meta_variant *v = meta_call(m, mp, p->calls[j].name);
			assert_non_null(v);
			assert_int_equal(v->index, p->calls[j].index);
		}
	}
	const struct meta_pallet *bal = meta_pallet(m, "Balances");
	assert_non_null(meta_call(m, bal, "transfer"));
	assert_non_null(meta_call(m, bal, "transfer_keep_alive"));
	assert_non_null(meta_call(m, bal, "transfer_allow_death"));
	assert_non_null(meta_event(m, bal, "Transfer"));
	assert_non_null(meta_event(m, bal, "Withdraw"));
	assert_non_null(meta_error(m, bal, "InsufficientBalance"));
	assert_non_null(meta_constant(bal, "ExistentialDeposit"));
	const struct meta_pallet *sys = meta_pallet(m, "System");
	assert_non_null(meta_event(m, sys, "ExtrinsicSuccess"));
	assert_non_null(meta_event(m, sys, "ExtrinsicFailed"));
	assert_non_null(meta_storage(sys, "Number"));
	assert_non_null(meta_storage(sys, "BlockHash"));
	assert_non_null(meta_storage(sys, "Events"));
	assert_non_null(meta_storage(meta_pallet(m, "Timestamp"), "Now"));
}

static void signed_extensions_in_tfchain_order(void **st)
{
	static const char *const want[] = {"CheckNonZeroSender", "CheckSpecVersion",
					   "CheckTxVersion",	 "CheckGenesis",
					   "CheckMortality",	 "CheckNonce",
					   "CheckWeight",	 "ChargeTransactionPayment"};
	assert_int_equal(m->extrinsic_version, 4);
	assert_int_equal(m->nexts, 8);
	for (size_t i = 0; i < 8; i++)
		assert_string_equal(m->exts[i].identifier, want[i]);
	struct xt_exts from_meta, def;
	assert_int_equal(xt_exts_from_meta(m, &from_meta, NULL), 0);
	xt_exts_default(&def);
	assert_int_equal(from_meta.n, def.n);
	assert_memory_equal(from_meta.ids, def.ids, def.n * sizeof(def.ids[0]));
}

static void account_entry_is_substrate_shaped(void **st)
{
	const struct meta_storage *s = meta_storage(meta_pallet(m, "System"), "Account");
	assert_non_null(s);
	assert_int_equal(s->nhashers, 1);
	assert_int_equal(s->hashers[0], CHAIN_HASHER_BLAKE2_128_CONCAT);
	const struct meta_type *t = meta_type(m, s->value_type);
	assert_string_equal(meta_type_name(t), "AccountInfo");
	static const char *const fields[] = {"nonce", "consumers", "providers", "sufficients",
					     "data"};
	assert_int_equal(t->nfields, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(t->fields[i].name, fields[i]);
	const struct meta_type *d = meta_type(m, t->fields[4].type);
	static const char *const df[] = {"free", "reserved", "frozen", "flags"};
	assert_int_equal(d->nfields, 4);
	for (int i = 0; i < 4; i++)
		assert_string_equal(d->fields[i].name, df[i]);

	/* The key from metadata, from our runtime, and from the well-known value. */
	struct zkey alice;
	struct zbuf k;
	uint8_t ours[DEV_ACCOUNT_KEY_LEN], prefix[16];
	tl_key("alice", &alice);
	zbuf_init(&k, 0);
	const uint8_t *keys[1] = {alice.pk};
	const size_t lens[1] = {32};
	assert_int_equal(meta_storage_key(m, "System", "Account", 1, keys, lens, &k), 0);
	dev_account_key(alice.pk, ours);
	assert_int_equal(k.len, sizeof(ours));
	assert_memory_equal(k.data, ours, sizeof(ours));
	assert_int_equal(hex_decode_fixed("26aa394eea5630e07c48ae0c9558cef7", prefix, 16), 0);
	assert_memory_equal(ours, prefix, 16);
	zbuf_free(&k);
	key_wipe(&alice);
}

static void encoded_calls_are_accepted(void **st)
{
	struct zkey bob;
	struct zbuf call, ours;
	char args[160], hex[70];
	tl_key("bob", &bob);
	hex_encode(bob.pk, 32, 1, hex, sizeof(hex));
	snprintf(args, sizeof(args), "[{\"Id\":\"%s\"}, \"12345678901\"]", hex);
	cJSON *a = cJSON_Parse(args);
	zbuf_init(&call, 0);
	zbuf_init(&ours, 0);
	assert_int_equal(meta_encode_call(m, "Balances", "transfer_keep_alive", a, &call), 0);
	tl_transfer_call(3, bob.pk, 12345678901ull, &ours);
	assert_int_equal(call.len, ours.len);
	assert_memory_equal(call.data, ours.data, ours.len);
	cJSON_Delete(a);

	/* The runtime's own by-type check agrees with the encoder... */
	struct dev_meta *dm;
	assert_int_equal(dev_meta_build(dev_pallets, dev_npallets, &dm), 0);
	assert_int_equal(dev_meta_check_call(dm, call.data, call.len), 0);
	/* ...and refuses trailing bytes, short input and an unknown call. */
	assert_int_equal(zbuf_putc(&call, 0), 0);
	assert_int_equal(dev_meta_check_call(dm, call.data, call.len), ZE_MALFORMED);
	assert_int_equal(dev_meta_check_call(dm, call.data, 10), ZE_MALFORMED);
	assert_int_equal(dev_meta_check_call(dm, (const uint8_t[]){2, 99}, 2), ZE_MALFORMED);
	/* Compact<u32> (System.remark's Vec length aside): Timestamp.set takes
	 * Compact<u64>; a u128-sized compact does not fit it. */
	const uint8_t big[] = {1, 0, 0x33, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	assert_int_equal(dev_meta_check_call(dm, big, sizeof(big)), ZE_MALFORMED);
	dev_meta_free(dm);
	zbuf_free(&call);
	zbuf_free(&ours);
	key_wipe(&bob);
}

/* A pallet whose description disagrees with its dispatch table is a bug
 * the runtime refuses to start with. */
static int nop(struct dev_ctx *ctx, struct scale_rd *args)
{
	return 0;
}

static int bad_describe(struct dev_meta *dm)
{
	dev_meta_call(dm, "other_name", 0, 0, NULL);
	return 0;
}

/* The form that takes the index from the dispatch table refuses a name
 * the table does not have. */
static int bad_describe_args(struct dev_meta *dm)
{
	dev_meta_call_args(dm, "other_name", 0, NULL);
	return 0;
}

static int good_describe_args(struct dev_meta *dm)
{
	dev_meta_call_args(dm, "a_call", 0, NULL);
	return 0;
}

static void mismatched_description_is_refused(void **st)
{
	static const struct dev_call calls[] = {{"a_call", 5, 0, nop}};
	static const struct dev_pallet bad = {.name = "Bad", .index = 9, .calls = calls,
					      .ncalls = 1, .describe = bad_describe};
	static const struct dev_pallet bad2 = {
	    .name = "Bad", .index = 9, .calls = calls, .ncalls = 1, .describe = bad_describe_args};
	static const struct dev_pallet good = {.name = "Good",
	                                       .index = 9,
	                                       .calls = calls,
	                                       .ncalls = 1,
	                                       .describe = good_describe_args};
	const struct dev_pallet *list[] = {&dev_pallet_system, &bad};
	struct dev_meta *dm = NULL;
	assert_int_equal(dev_meta_build(list, 2, &dm), -EINVAL);
	assert_null(dm);
	list[1] = &bad2;
	assert_int_equal(dev_meta_build(list, 2, &dm), -EINVAL);
	assert_null(dm);
	list[1] = &good;
	assert_int_equal(dev_meta_build(list, 2, &dm), 0);
	const uint8_t call[] = {9, 5};
	assert_int_equal(dev_meta_check_call(dm, call, sizeof call), 0);
	dev_meta_free(dm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_dispatched_call_is_described),
		cmocka_unit_test(signed_extensions_in_tfchain_order),
		cmocka_unit_test(account_entry_is_substrate_shaped),
		cmocka_unit_test(encoded_calls_are_accepted),
		cmocka_unit_test(mismatched_description_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
