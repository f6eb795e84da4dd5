/* Block limits: a block takes at most DEV_BLOCK_MAX_XTS extrinsics and the
 * pool keeps the rest, in nonce order, for the next one. */
#include "devchain_testlib.h"

#include <sodium.h>

#include "common/hex.h"

#define ACCOUNTS 300
#define NONCES 14 /* ACCOUNTS * NONCES > DEV_BLOCK_MAX_XTS */

static void overflow_waits_for_the_next_block(void **st)
{
	static struct zkey keys[ACCOUNTS];
	cJSON *g = NULL;
	struct dev_chain *c = NULL;
	uint8_t sink[32], hash[32];
	struct dev_reject why;
	assert_int_equal(dev_genesis_load(NULL, &g), 0);
	cJSON *list = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "Balances"), "balances");
	for (int i = 0; i < ACCOUNTS; i++) {
		char hex[70];
		assert_int_equal(key_generate(&keys[i]), 0);
		hex_encode(keys[i].pk, 32, 1, hex, sizeof(hex));
		cJSON *pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair, cJSON_CreateString(hex));
		cJSON_AddItemToArray(pair, cJSON_CreateString("100000000000"));
		cJSON_AddItemToArray(list, pair);
	}
	assert_int_equal(dev_chain_open(":memory:", g, &c), 0);
	cJSON_Delete(g);
	randombytes_buf(sink, sizeof(sink));
	struct zbuf call, xt;
	zbuf_init(&call, 0);
	zbuf_init(&xt, 0);
	tl_transfer_call(3, sink, 10000000, &call);
	/* Highest nonces first: the pool must still order them. */
	for (int n = NONCES - 1; n >= 0; n--) {
		for (int i = 0; i < ACCOUNTS; i++) {
			zbuf_reset(&xt);
			tl_sign(c, &keys[i], &call, (uint64_t)n, &xt);
			assert_int_equal(dev_chain_submit(c, xt.data, xt.len, hash, &why), 0);
		}
	}
	size_t total = (size_t)ACCOUNTS * NONCES;
	assert_int_equal(dev_chain_pending(c), total);
	uint32_t num = tl_produce(c, DEV_BLOCK_MAX_XTS);
	assert_int_equal(dev_chain_pending(c), total - DEV_BLOCK_MAX_XTS);
	tl_produce(c, total - DEV_BLOCK_MAX_XTS);
	assert_int_equal(dev_chain_pending(c), 0);
	struct dev_account a;
	assert_int_equal(tl_account(c, num + 1, sink, &a), 0);
	assert_true(a.free == (dev_balance)total * 10000000);
	for (int i = 0; i < ACCOUNTS; i++) {
		assert_int_equal(tl_account(c, num + 1, keys[i].pk, &a), 0);
		assert_int_equal(a.nonce, NONCES);
		key_wipe(&keys[i]);
	}
	zbuf_free(&call);
	zbuf_free(&xt);
	dev_chain_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(overflow_waits_for_the_next_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
