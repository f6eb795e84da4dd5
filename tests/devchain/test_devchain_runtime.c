/* The devchain runtime end to end without RPC: transfers, fees, events,
 * refused extrinsics, failed calls rolled back. */
#include "devchain_testlib.h"

#define TFT 10000000ull

static struct dev_chain *chain;
static struct zkey alice, bob;
static uint8_t fresh[32]; /* an account not in genesis */

static int setup(void **st)
{
	chain = tl_open(":memory:");
	tl_key("alice", &alice);
	tl_key("bob", &bob);
	memset(fresh, 0x42, 32);
	return 0;
}

static int teardown(void **st)
{
	dev_chain_close(chain);
	key_wipe(&alice);
	key_wipe(&bob);
	return 0;
}

static int submit(const struct zbuf *xt, struct dev_reject *why)
{
	uint8_t hash[32];
	memset(why, 0, sizeof(*why));
	return dev_chain_submit(chain, xt->data, xt->len, hash, why);
}

static void genesis_endows_dev_accounts(void **st)
{
	struct dev_account a;
	assert_int_equal(tl_account(chain, 0, alice.pk, &a), 0);
	assert_true(a.free == (dev_balance)1000000 * TFT);
	assert_int_equal(a.nonce, 0);
	assert_int_equal(a.providers, 1);
	assert_int_equal(tl_account(chain, 0, fresh, &a), ZE_ABSENT);
}

static void transfer_moves_funds_and_emits_events(void **st)
{
	struct zbuf call, xt;
	struct dev_reject why;
	struct dev_account a, f;
	zbuf_init(&call, 0);
	zbuf_init(&xt, 0);
	tl_transfer_call(3, fresh, 5 * TFT, &call); /* transfer_keep_alive */
	tl_sign(chain, &alice, &call, 0, &xt);
	assert_int_equal(submit(&xt, &why), 0);
	uint64_t next;
	assert_int_equal(dev_chain_next_index(chain, alice.pk, &next), 0);
	assert_int_equal(next, 1);
	uint32_t num = tl_produce(chain, 1);

	assert_int_equal(tl_account(chain, num, fresh, &f), 0);
	assert_true(f.free == 5 * TFT);
	assert_int_equal(tl_account(chain, num, alice.pk, &a), 0);
	assert_int_equal(a.nonce, 1);
	dev_balance fee = DEV_FEE_BASE + DEV_FEE_PER_BYTE * (dev_balance)xt.len;
	assert_true(a.free == (dev_balance)1000000 * TFT - 5 * TFT - fee);
	/* The state before the block is still readable at its number. */
	assert_int_equal(tl_account(chain, num - 1, fresh, &f), ZE_ABSENT);

	char *ev = tl_events(chain, num);
	assert_non_null(strstr(ev, "\"Withdraw\""));
	assert_non_null(strstr(ev, "\"NewAccount\""));
	assert_non_null(strstr(ev, "\"Endowed\""));
	assert_non_null(strstr(ev, "\"Transfer\""));
	assert_non_null(strstr(ev, "\"ExtrinsicSuccess\""));
	assert_non_null(strstr(ev, "{\"ApplyExtrinsic\":0}"));
	assert_null(strstr(ev, "ExtrinsicFailed"));
	free(ev);
	zbuf_free(&call);
	zbuf_free(&xt);
}

/* An sr25519 dev account is endowed and signs with MultiSignature::Sr25519. */
static void sr25519_account_transfers(void **st)
{
	struct zbuf call, xt;
	struct dev_reject why;
	struct dev_account a;
	struct zkey sr;
	uint32_t head;
	assert_int_equal(key_from_suri("//Charlie", KEY_SR25519, NULL, &sr), 0);
	dev_chain_head(chain, &head, NULL);
	assert_int_equal(tl_account(chain, head, sr.pk, &a), 0);
	assert_true(a.free > 0);
	zbuf_init(&call, 0);
	zbuf_init(&xt, 0);
	tl_transfer_call(3, bob.pk, TFT, &call);
	tl_sign(chain, &sr, &call, a.nonce, &xt);
	assert_int_equal(xt.data[2 + 1 + 33], 1); /* MultiSignature::Sr25519 */
	/* A flipped signature bit is refused. */
	xt.data[2 + 1 + 33 + 9] ^= 1;
	assert_int_equal(submit(&xt, &why), ZE_CHAIN);
	assert_non_null(strstr(why.reason, "signature"));
	xt.data[2 + 1 + 33 + 9] ^= 1;
	assert_int_equal(submit(&xt, &why), 0);
	uint32_t num = tl_produce(chain, 1);
	assert_int_equal(tl_account(chain, num, sr.pk, &a), 0);
	assert_int_equal(a.nonce, 1);
	char *ev = tl_events(chain, num);
	assert_non_null(strstr(ev, "\"Transfer\""));
	assert_null(strstr(ev, "ExtrinsicFailed"));
	free(ev);
	key_wipe(&sr);
	zbuf_free(&call);
	zbuf_free(&xt);
}

static void failed_call_keeps_fee_and_nonce(void **st)
{
	struct zbuf call, xt;
	struct dev_reject why;
	struct dev_account before, after, f;
	uint32_t head;
	dev_chain_head(chain, &head, NULL);
	assert_int_equal(tl_account(chain, head, bob.pk, &before), 0);
	zbuf_init(&call, 0);
	zbuf_init(&xt, 0);
	/* More than Bob has: InsufficientBalance (Balances error 2). */
	tl_transfer_call(0, fresh, 2000000 * TFT, &call);
	tl_sign(chain, &bob, &call, before.nonce, &xt);
	assert_int_equal(submit(&xt, &why), 0);
	uint32_t num = tl_produce(chain, 1);
	assert_int_equal(tl_account(chain, num, bob.pk, &after), 0);
	assert_int_equal(after.nonce, before.nonce + 1);
	dev_balance fee = DEV_FEE_BASE + DEV_FEE_PER_BYTE * (dev_balance)xt.len;
	assert_true(after.free == before.free - fee);
	assert_int_equal(tl_account(chain, num, fresh, &f), 0);
	assert_true(f.free == 5 * TFT);
	char *ev = tl_events(chain, num);
	assert_non_null(strstr(ev, "\"ExtrinsicFailed\""));
	assert_non_null(strstr(ev, "{\"Module\":{\"index\":2,\"error\":\"0x02000000\"}}"));
	assert_null(strstr(ev, "\"Transfer\""));
	free(ev);

	/* A new account below the existential deposit: error 3. */
	zbuf_reset(&call);
	zbuf_reset(&xt);
	uint8_t other[32];
	memset(other, 0x43, 32);
	tl_transfer_call(0, other, 1, &call);
	tl_sign(chain, &bob, &call, after.nonce, &xt);
	assert_int_equal(submit(&xt, &why), 0);
	num = tl_produce(chain, 1);
	ev = tl_events(chain, num);
	assert_non_null(strstr(ev, "{\"Module\":{\"index\":2,\"error\":\"0x03000000\"}}"));
	free(ev);
	zbuf_free(&call);
	zbuf_free(&xt);
}

static void bad_extrinsics_are_refused(void **st)
{
	struct zbuf call, xt;
	struct dev_reject why;
	struct dev_account a;
	uint32_t head;
	dev_chain_head(chain, &head, NULL);
	assert_int_equal(tl_account(chain, head, alice.pk, &a), 0);
	zbuf_init(&call, 0);
	zbuf_init(&xt, 0);
	tl_transfer_call(3, bob.pk, TFT, &call);
	tl_sign(chain, &alice, &call, a.nonce, &xt);

	/* Bad signature: one flipped bit in the signature. */
	xt.data[2 + 1 + 33 + 5] ^= 1;
	assert_int_equal(submit(&xt, &why), ZE_CHAIN);
	assert_int_equal(why.code, DEV_RPC_INVALID_TX);
	assert_non_null(strstr(why.reason, "signature"));
	xt.data[2 + 1 + 33 + 5] ^= 1;

	/* An ed25519 signature relabelled as sr25519 does not verify. */
	xt.data[2 + 1 + 33] = 1;
	assert_int_equal(submit(&xt, &why), ZE_CHAIN);
	assert_non_null(strstr(why.reason, "signature"));
	/* ecdsa signatures are not supported. */
	xt.data[2 + 1 + 33] = 2;
	assert_int_equal(submit(&xt, &why), ZE_CHAIN);
	assert_non_null(strstr(why.reason, "ecdsa"));
	xt.data[2 + 1 + 33] = 0;

	/* Truncated. */
	assert_int_equal(dev_chain_submit(chain, xt.data, xt.len - 3, (uint8_t[32]){0}, &why),
			 ZE_CHAIN);
	assert_int_equal(why.code, DEV_RPC_INVALID_TX);

	/* Huge. */
	uint8_t *huge = calloc(1, DEV_XT_MAX + 16);
	assert_non_null(huge);
	assert_int_equal(dev_chain_submit(chain, huge, DEV_XT_MAX + 16, (uint8_t[32]){0}, &why),
			 ZE_CHAIN);
	assert_non_null(strstr(why.reason, "exhaust"));
	free(huge);

	/* Unknown call. */
	struct zbuf bad;
	zbuf_init(&bad, 0);
	assert_int_equal(zbuf_put(&bad, (const uint8_t[]){2, 99}, 2), 0);
	zbuf_reset(&xt);
	tl_sign(chain, &alice, &bad, a.nonce, &xt);
	assert_int_equal(submit(&xt, &why), ZE_CHAIN);
	assert_non_null(strstr(why.reason, "Call not found"));
	/* Arguments that do not decode (value missing). */
	zbuf_reset(&bad);
	assert_int_equal(zbuf_put(&bad, call.data, 2 + 33), 0);
	zbuf_reset(&xt);
	tl_sign(chain, &alice, &bad, a.nonce, &xt);
	assert_int_equal(submit(&xt, &why), ZE_CHAIN);
	assert_non_null(strstr(why.reason, "arguments"));
	zbuf_free(&bad);

	/* Stale nonce. */
	zbuf_reset(&xt);
	tl_sign(chain, &alice, &call, a.nonce - 1, &xt);
	assert_int_equal(submit(&xt, &why), ZE_CHAIN);
	assert_int_equal(why.code, DEV_RPC_INVALID_TX);
	assert_non_null(strstr(why.reason, "outdated"));

	/* Too far in the future. */
	zbuf_reset(&xt);
	tl_sign(chain, &alice, &call, a.nonce + DEV_POOL_FUTURE + 1, &xt);
	assert_int_equal(submit(&xt, &why), ZE_CHAIN);
	assert_non_null(strstr(why.reason, "future"));

	/* Duplicate nonce in the pool: 1014. */
	zbuf_reset(&xt);
	tl_sign(chain, &alice, &call, a.nonce, &xt);
	assert_int_equal(submit(&xt, &why), 0);
	assert_int_equal(submit(&xt, &why), ZE_CHAIN);
	assert_int_equal(why.code, DEV_RPC_TOO_LOW_PRIORITY);

	/* A queued future nonce waits for the gap to fill. */
	zbuf_reset(&xt);
	tl_sign(chain, &alice, &call, a.nonce + 2, &xt);
	assert_int_equal(submit(&xt, &why), 0);
	tl_produce(chain, 1);
	zbuf_reset(&xt);
	tl_sign(chain, &alice, &call, a.nonce + 1, &xt);
	assert_int_equal(submit(&xt, &why), 0);
	tl_produce(chain, 2);
	assert_int_equal(dev_chain_pending(chain), 0);
	zbuf_free(&call);
	zbuf_free(&xt);
}

static void wrong_genesis_is_a_bad_proof(void **st)
{
	struct zbuf call, xt;
	struct dev_reject why;
	struct xt_exts exts;
	struct xt_params p = {0};
	uint64_t nonce;
	assert_int_equal(dev_chain_next_index(chain, alice.pk, &nonce), 0);
	zbuf_init(&call, 0);
	zbuf_init(&xt, 0);
	tl_transfer_call(3, bob.pk, TFT, &call);
	xt_exts_default(&exts);
	p.call = call.data;
	p.call_len = call.len;
	xt_era_immortal(&p.era);
	p.nonce = nonce;
	p.spec_version = DEV_SPEC_VERSION;
	p.tx_version = DEV_TX_VERSION;
	memset(p.genesis, 0x11, 32);
	memcpy(p.block_hash, p.genesis, 32);
	assert_int_equal(xt_sign(&exts, &p, &alice, &xt), 0);
	assert_int_equal(submit(&xt, &why), ZE_CHAIN);
	assert_non_null(strstr(why.reason, "BadProof"));

	/* A mortal era anchored at the current head is accepted. */
	uint32_t head;
	dev_chain_head(chain, &head, p.block_hash);
	dev_chain_genesis_hash(chain, p.genesis);
	xt_era_mortal(64, head, &p.era);
	zbuf_reset(&xt);
	assert_int_equal(xt_sign(&exts, &p, &alice, &xt), 0);
	assert_int_equal(submit(&xt, &why), 0);
	tl_produce(chain, 1);
	zbuf_free(&call);
	zbuf_free(&xt);
}

static int read_plain(uint32_t at, const char *pallet, const char *item, const uint8_t *suffix,
		      size_t slen, struct zbuf *v)
{
	uint8_t key[64];
	chain_storage_prefix(pallet, item, key);
	if (slen)
		memcpy(key + 32, suffix, slen);
	zbuf_reset(v);
	return dev_chain_storage(chain, at, key, 32 + slen, v);
}

static void blocks_set_number_hash_and_time(void **st)
{
	struct zbuf v, header;
	uint8_t parent[32], hash[32], suffix[12];
	uint32_t before, num;
	uint64_t t1, t2;
	zbuf_init(&v, 1024);
	zbuf_init(&header, 1024);
	dev_chain_head(chain, &before, parent);
	num = tl_produce(chain, 0);
	assert_int_equal(num, before + 1);
	assert_int_equal(read_plain(num, "System", "Number", NULL, 0, &v), 0);
	assert_int_equal(v.len, 4);
	assert_int_equal(v.data[0] | v.data[1] << 8 | v.data[2] << 16 | (uint32_t)v.data[3] << 24, num);
	assert_int_equal(read_plain(num, "System", "ParentHash", NULL, 0, &v), 0);
	assert_memory_equal(v.data, parent, 32);
	/* BlockHash is Twox64Concat(u32): twox64(le32(n-1)) ++ le32(n-1). */
	uint8_t le[4] = {(uint8_t)before, (uint8_t)(before >> 8), (uint8_t)(before >> 16),
			 (uint8_t)(before >> 24)};
	chain_twox64(le, 4, suffix);
	memcpy(suffix + 8, le, 4);
	assert_int_equal(read_plain(num, "System", "BlockHash", suffix, 12, &v), 0);
	assert_memory_equal(v.data, parent, 32);
	assert_int_equal(read_plain(num, "Timestamp", "Now", NULL, 0, &v), 0);
	assert_int_equal(v.len, 8);
	memcpy(&t1, v.data, 8);
	num = tl_produce(chain, 0);
	assert_int_equal(read_plain(num, "Timestamp", "Now", NULL, 0, &v), 0);
	memcpy(&t2, v.data, 8);
	assert_true(t2 > t1);
	/* The block hash is blake2b-256 of the SCALE header. */
	assert_int_equal(dev_chain_block(chain, num, hash, &header, NULL), 0);
	uint8_t h2[32];
	chain_blake2_256(header.data, header.len, h2);
	assert_memory_equal(h2, hash, 32);
	/* No extrinsics, no events: System.Events reads as absent. */
	assert_int_equal(read_plain(num, "System", "Events", NULL, 0, &v), ZE_ABSENT);
	zbuf_free(&v);
	zbuf_free(&header);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(genesis_endows_dev_accounts),
		cmocka_unit_test(transfer_moves_funds_and_emits_events),
		cmocka_unit_test(failed_call_keeps_fee_and_nonce),
		cmocka_unit_test(bad_extrinsics_are_refused),
		cmocka_unit_test(sr25519_account_transfers),
		cmocka_unit_test(wrong_genesis_is_a_bad_proof),
		cmocka_unit_test(blocks_set_number_hash_and_time),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
