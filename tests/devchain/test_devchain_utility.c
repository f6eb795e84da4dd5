/* The devchain's Utility.batch_all without RPC: calls of a batch run in
 * order with ItemCompleted after each and BatchCompleted at the end; a
 * failing call fails the extrinsic with its own pallet's error and reverts
 * the calls before it; the metadata describes batch_all(calls:
 * Vec<RuntimeCall>) so a generic client can encode and decode it. */
#include "devchain_testlib.h"

#define TFT 10000000ull
#define UTILITY 23

static struct dev_chain *chain;
static struct zkey alice, bob;

static int setup(void **st)
{
	chain = tl_open(":memory:");
	tl_key("alice", &alice);
	tl_key("bob", &bob);
	return 0;
}

static int teardown(void **st)
{
	dev_chain_close(chain);
	key_wipe(&alice);
	key_wipe(&bob);
	return 0;
}

static void batch_call(size_t n, const struct zbuf *calls, struct zbuf *out)
{
	assert_int_equal(scale_put_u8(out, UTILITY), 0);
	assert_int_equal(scale_put_u8(out, 2), 0); /* batch_all */
	assert_int_equal(scale_put_compact(out, n), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(scale_put_bytes(out, calls[i].data, calls[i].len), 0);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void run_batch(size_t n, const uint64_t *amounts, struct dev_account *before,
                      struct dev_account *after, char **events)
{
	struct zbuf calls[4], call, xt;
	struct dev_reject why;
	uint8_t hash[32];
	uint32_t head;
	dev_chain_head(chain, &head, NULL);
	assert_int_equal(tl_account(chain, head, bob.pk, before), 0);
	for (size_t i = 0; i < n; i++) {
		zbuf_init(&calls[i], 0);
		tl_transfer_call(0, bob.pk, amounts[i], &calls[i]);
	}
	zbuf_init(&call, 0);
	zbuf_init(&xt, 0);
	batch_call(n, calls, &call);
	struct dev_account a;
	assert_int_equal(tl_account(chain, head, alice.pk, &a), 0);
	tl_sign(chain, &alice, &call, a.nonce, &xt);
	memset(&why, 0, sizeof(why));
	assert_int_equal(dev_chain_submit(chain, xt.data, xt.len, hash, &why), 0);
	uint32_t num = tl_produce(chain, 1);
	assert_int_equal(tl_account(chain, num, bob.pk, after), 0);
	*events = tl_events(chain, num);
	for (size_t i = 0; i < n; i++)
		zbuf_free(&calls[i]);
	zbuf_free(&call);
	zbuf_free(&xt);
}

static void batch_all_runs_every_call(void **st)
{
	const uint64_t amounts[] = {1 * TFT, 2 * TFT, 3 * TFT};
	struct dev_account before, after;
	char *ev;
	run_batch(3, amounts, &before, &after, &ev);
	assert_true(after.free == before.free + 6 * TFT);
	assert_int_equal(count(ev, "\"ItemCompleted\""), 3);
	assert_int_equal(count(ev, "\"BatchCompleted\""), 1);
	assert_int_equal(count(ev, "\"Transfer\""), 3);
	assert_non_null(strstr(ev, "\"ExtrinsicSuccess\""));
	/* Each item's transfer comes before its ItemCompleted. */
	assert_true(strstr(ev, "\"Transfer\"") < strstr(ev, "\"ItemCompleted\""));
	free(ev);
}

static void batch_all_is_atomic(void **st)
{
	/* The second transfer is more than Alice has: Balances error 2. */
	const uint64_t amounts[] = {1 * TFT, 100000000000 * TFT, 1 * TFT};
	struct dev_account before, after;
	char *ev;
	run_batch(3, amounts, &before, &after, &ev);
	assert_true(after.free == before.free); /* the first transfer reverted */
	assert_non_null(strstr(ev, "\"ExtrinsicFailed\""));
	/* Attributed to the failing call's pallet (Balances, 2), not Utility. */
	assert_non_null(strstr(ev, "{\"Module\":{\"index\":2,\"error\":\"0x02000000\"}}"));
	assert_null(strstr(ev, "\"ItemCompleted\""));
	assert_null(strstr(ev, "\"BatchCompleted\""));
	assert_null(strstr(ev, "\"Transfer\""));
	free(ev);
}

static void metadata_describes_batch_all(void **st)
{
	size_t mlen;
	const uint8_t *mb = dev_chain_metadata(chain, &mlen);
	struct meta *m;
	assert_int_equal(meta_decode(mb, mlen, &m), 0);
	const struct meta_pallet *p = meta_pallet(m, "Utility");
	assert_non_null(p);
	assert_int_equal(p->index, UTILITY);
	const struct meta_variant *v = meta_call(m, p, "batch_all");
	assert_non_null(v);
	assert_int_equal(v->index, 2);
	assert_non_null(meta_event(m, p, "BatchInterrupted"));
	assert_non_null(meta_event(m, p, "ItemCompleted"));
	/* The generic codec walks the recursive Vec<RuntimeCall>. */
	struct zbuf inner, call;
	zbuf_init(&inner, 0);
	zbuf_init(&call, 0);
	tl_transfer_call(0, bob.pk, 7, &inner);
	batch_call(1, &inner, &call);
	struct scale_rd rd;
	cJSON *j = NULL;
	scale_rd_init(&rd, call.data, call.len);
	assert_int_equal(meta_decode_call(m, &rd, &j), 0);
	char *txt = cJSON_PrintUnformatted(j);
	assert_non_null(strstr(txt, "batch_all"));
	assert_non_null(strstr(txt, "transfer"));
	free(txt);
	cJSON_Delete(j);
	zbuf_free(&inner);
	zbuf_free(&call);
	meta_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(batch_all_runs_every_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(batch_all_is_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(metadata_describes_batch_all, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
