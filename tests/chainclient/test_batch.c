/*
 * JSON-RPC batches and the reads built on them, against a real tfchain-dev
 * process ($BUILD/tfchain-dev, skipped when not built) over HTTP and
 * WebSocket: each call of a batch gets its own answer in one request;
 * concurrent storage reads coalesce into few requests, each reader getting
 * its own value or ZE_ABSENT; a server that refuses batches (a fake one)
 * gets the calls one by one; a follower's block reads check a computed
 * hash; a header's computed hash is the chain's, also the one a head
 * subscription announces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client.h"
#include "chainclient/hash.h"
#include "chainclient/rpc.h"
#include "chainclient/submit.h"
#include "common/buf.h"
#include "common/hex.h"
#include "common/key.h"
#include "common/zerr.h"
#include "tests/chainclient/devchain_proc.h"
#include "tests/chainclient/fake_rpc.h"

static char ws_url[80];

/* The devchain's WebSocket URL: the same port as its HTTP one. */
static const char *url_of(int ws)
{
	if (!ws)
		return dev_url;
	snprintf(ws_url, sizeof ws_url, "ws://%s", dev_url + strlen("http://"));
	return ws_url;
}

static uint64_t requests_of(struct rpc_client *c)
{
	struct rpc_stats s;
	rpc_client_stats(c, &s);
	return s.requests;
}

static void batch_answers_each_call(int ws)
{
	struct rpc_client *c;
	cJSON *p0 = cJSON_Parse("[0]"), *p1 = cJSON_Parse("[\"0x00112233\"]");
	assert_int_equal(rpc_client_new(url_of(ws), NULL, &c), 0);
	struct rpc_batch_call calls[4] = {
	    {.method = "chain_getBlockHash", .params = p0},
	    {.method = "state_getStorage", .params = p1},
	    {.method = "no_such_method"},
	    {.method = "chain_getFinalizedHead"},
	};
	uint64_t before = requests_of(c);
	assert_int_equal(rpc_call_batch(c, calls, 4), 0);
	assert_int_equal(requests_of(c) - before, 1);
	assert_int_equal(calls[0].rc, 0);
	assert_true(cJSON_IsString(calls[0].result));
	assert_int_equal(strlen(calls[0].result->valuestring), 66);
	assert_int_equal(calls[1].rc, 0);
	assert_true(cJSON_IsNull(calls[1].result));
	assert_int_equal(calls[2].rc, ZE_CHAIN);
	assert_int_not_equal(calls[2].err.code, 0);
	assert_null(calls[2].result);
	assert_int_equal(calls[3].rc, 0);
	assert_true(cJSON_IsString(calls[3].result));
	rpc_batch_free(calls, 4);
	/* The follower's head poll: the head and a block's hash together. */
	uint8_t fin[32], fin2[32], h0[32], g[32];
	int have = 0;
	assert_int_equal(rpc_finalized_head(c, fin), 0);
	assert_int_equal(rpc_block_hash(c, 0, g), 0);
	before = requests_of(c);
	assert_int_equal(rpc_finalized_head_and_hash(c, 0, fin2, h0, &have), 0);
	assert_int_equal(requests_of(c) - before, 1);
	assert_int_equal(have, 1);
	assert_memory_equal(h0, g, 32);
	assert_int_equal(rpc_finalized_head_and_hash(c, 1u << 30, fin2, h0, &have), 0);
	assert_int_equal(have, 0);
	/* A call without a method is refused before anything is sent. */
	struct rpc_batch_call bad[2] = {{.method = "chain_getFinalizedHead"}, {.method = NULL}};
	assert_int_equal(rpc_call_batch(c, bad, 2), -EINVAL);
	cJSON_Delete(p0);
	cJSON_Delete(p1);
	rpc_client_free(c);
}

static void batch_http(void **st)
{
	batch_answers_each_call(0);
}
static void batch_ws(void **st)
{
	batch_answers_each_call(1);
}

/* ---- coalesced reads ---- */

#define READERS 8

struct reader {
	struct rpc_client *c;
	uint8_t key[96];
	size_t keylen;
	int rc;
	uint8_t *val;
	size_t len;
	pthread_barrier_t *go;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	pthread_barrier_wait(r->go);
	r->rc = rpc_get_storage(r->c, r->key, r->keylen, NULL, 1 << 16, &r->val, &r->len);
	return NULL;
}

/* System.Account of a dev account (present), or a key nobody wrote. */
static void account_key(const char *name, uint8_t *key, size_t *len)
{
	struct zkey k;
	struct zbuf b;
	enum chain_hasher h = CHAIN_HASHER_BLAKE2_128_CONCAT;
	assert_int_equal(key_dev(name, &k), 0);
	const uint8_t *kp = k.pk;
	size_t kl = 32;
	zbuf_init(&b, 128);
	assert_int_equal(chain_storage_key("System", "Account", 1, &h, &kp, &kl, &b), 0);
	assert_int_equal(b.len, 80);
	memcpy(key, b.data, b.len);
	*len = b.len;
	zbuf_free(&b);
	key_wipe(&k);
}

static void coalesced_reads(int ws)
{
	static const char *names[READERS / 2] = {"alice", "bob", "charlie", "dave"};
	struct rpc_opts o;
	struct rpc_client *c, *plain;
	struct reader r[READERS];
	pthread_t t[READERS];
	pthread_barrier_t go;

	rpc_opts_default(&o);
	o.coalesce_reads = 1;
	o.coalesce_ms = 50;
	assert_int_equal(rpc_client_new(url_of(ws), &o, &c), 0);
	assert_int_equal(rpc_client_new(url_of(ws), NULL, &plain), 0);
	pthread_barrier_init(&go, NULL, READERS);
	for (int i = 0; i < READERS; i++) {
		memset(&r[i], 0, sizeof r[i]);
		r[i].c = c;
		r[i].go = &go;
		if (i % 2 == 0) {
			account_key(names[i / 2], r[i].key, &r[i].keylen);
		} else {
			/* Absent: its own deploy fails, the others' do not. */
			memset(r[i].key, 0xa0 + i, 40);
			r[i].keylen = 40;
		}
	}
	uint64_t before = requests_of(c);
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
	for (int i = 0; i < READERS; i++)
		pthread_join(t[i], NULL);
	uint64_t sent = requests_of(c) - before;
	struct rpc_stats s;
	rpc_client_stats(c, &s);
	assert_int_equal(s.batched_reads, READERS);
	/* The readers start together and the first waits 50 ms: far fewer
	 * requests than readers (one, unless a thread was very late). */
	assert_true(s.read_batches <= 3);
	assert_true(sent <= 3);
	for (int i = 0; i < READERS; i++) {
		if (i % 2) {
			assert_int_equal(r[i].rc, ZE_ABSENT);
			assert_null(r[i].val);
			continue;
		}
		/* Each reader has its own account's value, as a lone read has. */
		uint8_t *v = NULL;
		size_t n = 0;
		assert_int_equal(r[i].rc, 0);
		assert_int_equal(
		    rpc_get_storage(plain, r[i].key, r[i].keylen, NULL, 1 << 16, &v, &n), 0);
		assert_int_equal(n, r[i].len);
		assert_memory_equal(v, r[i].val, n);
		free(v);
		free(r[i].val);
	}
	/* A read at a given block does not wait for others. */
	uint8_t hash[32], *v = NULL;
	size_t n = 0;
	assert_int_equal(rpc_block_hash(c, 0, hash), 0);
	assert_int_equal(rpc_get_storage(c, r[0].key, r[0].keylen, hash, 1 << 16, &v, &n), 0);
	free(v);
	rpc_client_stats(c, &s);
	assert_int_equal(s.batched_reads, READERS);
	pthread_barrier_destroy(&go);
	rpc_client_free(plain);
	rpc_client_free(c);
}

static void coalesced_http(void **st)
{
	coalesced_reads(0);
}
static void coalesced_ws(void **st)
{
	coalesced_reads(1);
}

/* ---- a server without batches ---- */

static void no_batch_handler(void *ud, const char *method, const cJSON *params, double id,
                             struct fake_reply *r)
{
	if (!*method) { /* an array: jsonrpsee with batches turned off answers so */
		r->body = fake_printf("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,"
		                      "\"message\":\"Batched requests are not supported\"}}");
		return;
	}
	if (strcmp(method, "chain_getBlockHash") == 0 ||
	    strcmp(method, "chain_getFinalizedHead") == 0)
		fake_result(r, id,
		            "\"0x"
		            "1111111111111111111111111111111111111111111111111111111111111111\"");
	else
		fake_result(r, id, "null");
}

static void refused_batches_go_one_by_one(void **st)
{
	struct fake_rpc f;
	struct rpc_client *c;
	assert_int_equal(fake_start(&f, no_batch_handler, NULL), 0);
	assert_int_equal(rpc_client_new(f.url, NULL, &c), 0);
	struct rpc_batch_call calls[3] = {{.method = "chain_getBlockHash"},
	                                  {.method = "state_getStorage"},
	                                  {.method = "chain_getBlockHash"}};
	assert_int_equal(rpc_call_batch(c, calls, 3), 0);
	assert_int_equal(fake_hits(&f), 1 + 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(calls[i].rc, 0);
	assert_true(cJSON_IsString(calls[0].result));
	assert_true(cJSON_IsNull(calls[1].result));
	rpc_batch_free(calls, 3);
	/* The client remembers: no second refused batch. */
	assert_int_equal(rpc_call_batch(c, calls, 3), 0);
	assert_int_equal(fake_hits(&f), 1 + 3 + 3);
	assert_true(cJSON_IsString(calls[2].result));
	rpc_batch_free(calls, 3);
	/* The follower's head poll asks the head alone: one request. */
	uint8_t fin[32], next[32];
	int have = 1;
	assert_int_equal(rpc_finalized_head_and_hash(c, 5, fin, next, &have), 0);
	assert_int_equal(have, 0);
	assert_int_equal(fake_hits(&f), 1 + 3 + 3 + 1);
	rpc_client_free(c);
	fake_stop(&f);
}

/* Answers too large together but not alone: each call still gets its own. */
static void oversized_batch_goes_one_by_one(void **st)
{
	struct rpc_opts o;
	struct rpc_client *c;
	cJSON *p = cJSON_Parse("[0]");
	rpc_opts_default(&o);
	o.max_response = 200; /* one block hash answer is about 100 bytes */
	assert_int_equal(rpc_client_new(url_of(0), &o, &c), 0);
	struct rpc_batch_call calls[3] = {{.method = "chain_getBlockHash", .params = p},
	                                  {.method = "chain_getBlockHash", .params = p},
	                                  {.method = "chain_getBlockHash", .params = p}};
	uint64_t before = requests_of(c);
	assert_int_equal(rpc_call_batch(c, calls, 3), 0);
	assert_int_equal(requests_of(c) - before, 1 + 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(calls[i].rc, 0);
		assert_true(cJSON_IsString(calls[i].result));
	}
	rpc_batch_free(calls, 3);
	cJSON_Delete(p);
	rpc_client_free(c);
}

/* ---- header hashes and the follower's block reads ---- */

static void header_hash_is_the_chains(void **st)
{
	struct rpc_client *c;
	uint8_t hash[32], got[32], parent[32], prev[32];
	uint64_t num;
	char params[80];
	cJSON *hdr = NULL;
	assert_int_equal(rpc_client_new(url_of(0), NULL, &c), 0);
	assert_int_equal(rpc_block_hash(c, 0, prev), 0);
	for (uint64_t b = 1; b <= 3; b++) {
		while (rpc_block_hash(c, b, hash) == ZE_ABSENT)
			sleep_ms(20);
		char hex[67];
		assert_int_equal(hex_encode(hash, 32, 1, hex, sizeof hex), 0);
		snprintf(params, sizeof params, "[\"%s\"]", hex);
		assert_int_equal(rpc_call_text(c, "chain_getHeader", params, &hdr, NULL), 0);
		assert_int_equal(rpc_header_hash(hdr, &num, got, parent), 0);
		assert_int_equal(num, b);
		assert_memory_equal(got, hash, 32);
		assert_memory_equal(parent, prev, 32);
		memcpy(prev, hash, 32);
		/* A digest log is part of what is hashed. */
		cJSON *logs = cJSON_GetObjectItem(cJSON_GetObjectItem(hdr, "digest"), "logs");
		cJSON_AddItemToArray(logs, cJSON_CreateString("0x0401020304"));
		assert_int_equal(rpc_header_hash(hdr, &num, got, parent), 0);
		assert_memory_not_equal(got, hash, 32);
		cJSON_ReplaceItemInObject(hdr, "stateRoot", cJSON_CreateString("0x12"));
		assert_int_equal(rpc_header_hash(hdr, &num, got, parent), ZE_MALFORMED);
		cJSON_Delete(hdr);
	}
	rpc_client_free(c);
}

static void block_reads_check_the_hash(void **st)
{
	struct chain_client *cl;
	struct chain_runtime *rt;
	uint8_t hash[32], right[32], *ev = NULL, **xts = NULL;
	size_t nev = 0, *lens = NULL, nxt = 0;
	assert_int_equal(chain_client_new(url_of(1), NULL, &cl), 0);
	assert_int_equal(chain_client_runtime(cl, &rt), 0);
	struct rpc_client *rpc = chain_client_rpc(cl);
	/* A block with an extrinsic and events: a twin created. */
	struct chain_submitter *s;
	struct chain_outcome o;
	struct zkey alice;
	assert_int_equal(key_dev("alice", &alice), 0);
	assert_int_equal(chain_submitter_new(cl, &alice, NULL, &s), 0);
	const char *args = "[null, null]";
	cJSON *a = cJSON_Parse(args);
	memset(&o, 0, sizeof o);
	assert_int_equal(chain_submit_wait(s, "TfgridModule", "create_twin", a, &o), 0);
	assert_int_equal(o.status, CHAIN_OUTCOME_SUCCESS);
	cJSON_Delete(a);
	chain_submitter_free(s);
	uint64_t blk = o.block_number;
	memcpy(right, o.block_hash, 32);
	chain_outcome_clear(&o);
	memcpy(hash, right, 32);
	uint64_t before = requests_of(rpc);
	assert_int_equal(chain_block_reads(cl, rt, blk, hash, 1, 1, &ev, &nev, &xts, &lens, &nxt),
	                 0);
	assert_int_equal(requests_of(rpc) - before, 1);
	/* The body is the block's, as chain_getBlock has it alone. */
	uint8_t **xts2 = NULL;
	size_t *lens2 = NULL, nxt2 = 0;
	uint64_t num = 0;
	assert_int_equal(rpc_block(rpc, right, &num, &xts2, &lens2, &nxt2), 0);
	assert_int_equal(num, blk);
	assert_true(nxt >= 1);
	assert_int_equal(nxt, nxt2);
	for (size_t i = 0; i < nxt; i++) {
		assert_int_equal(lens[i], lens2[i]);
		assert_memory_equal(xts[i], xts2[i], lens[i]);
	}
	rpc_keys_free(xts2, lens2, nxt2);
	assert_non_null(ev);
	cJSON *events = NULL;
	static const char *const sys[] = {"System"};
	assert_int_equal(chain_events_decode(rt, ev, nev, sys, 1, &events), 0);
	assert_non_null(chain_event_find(events, "System", "ExtrinsicSuccess"));
	/* Only the pallets asked for are decoded. */
	assert_null(chain_event_find(events, "TfgridModule", "TwinStored"));
	cJSON_Delete(events);
	free(ev);
	rpc_keys_free(xts, lens, nxt);
	/* A wrong computed hash: ZE_STATE with the chain's, nothing read. */
	hash[5] ^= 1;
	assert_int_equal(chain_block_reads(cl, rt, blk, hash, 1, 1, &ev, &nev, &xts, &lens, &nxt),
	                 ZE_STATE);
	assert_memory_equal(hash, right, 32);
	assert_null(ev);
	assert_null(xts);
	/* No such block yet. */
	assert_int_equal(
	    chain_block_reads(cl, rt, 1u << 30, hash, 1, 0, &ev, &nev, &xts, &lens, &nxt),
	    ZE_ABSENT);
	/* No events stored decodes as none. */
	assert_int_equal(chain_events_decode(rt, NULL, 0, sys, 1, &events), 0);
	assert_int_equal(cJSON_GetArraySize(events), 0);
	cJSON_Delete(events);
	chain_runtime_put(rt);
	chain_client_free(cl);
	key_wipe(&alice);
}

static void announced_head_has_the_chains_hash(void **st)
{
	struct rpc_client *c;
	uint8_t hash[32], parent[32], chain[32];
	uint64_t num = 0;
	int64_t age = 0;
	assert_int_equal(rpc_client_new(url_of(0), NULL, &c), 0);
	assert_int_equal(rpc_heads_final(c, &num, hash, parent, &age), ZE_UNSUPPORTED);
	rpc_client_free(c);
	assert_int_equal(rpc_client_new(url_of(1), NULL, &c), 0);
	int rc = ZE_UNSUPPORTED;
	for (int i = 0; i < 200 && (rc || num < 1); i++) {
		rc = rpc_heads_final(c, &num, hash, parent, &age);
		if (rc || num < 1)
			sleep_ms(20);
	}
	assert_int_equal(rc, 0);
	assert_true(age >= 0 && age < 5000);
	assert_int_equal(rpc_block_hash(c, num, chain), 0);
	assert_memory_equal(hash, chain, 32);
	assert_int_equal(rpc_block_hash(c, num - 1, chain), 0);
	assert_memory_equal(parent, chain, 32);
	rpc_client_free(c);
}

int main(void)
{
	char bin[512];
	int rc = dev_open(bin, sizeof(bin), "/tmp/test_batch.XXXXXX");

	if (rc != 0)
		return rc;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(batch_http),
	    cmocka_unit_test(batch_ws),
	    cmocka_unit_test(coalesced_http),
	    cmocka_unit_test(coalesced_ws),
	    cmocka_unit_test(refused_batches_go_one_by_one),
	    cmocka_unit_test(oversized_batch_goes_one_by_one),
	    cmocka_unit_test(header_hash_is_the_chains),
	    cmocka_unit_test(block_reads_check_the_hash),
	    cmocka_unit_test(announced_head_has_the_chains_hash),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	dev_stop();
	unlink(dev_log);
	return rc;
}
