/* Helpers for the devchain framework tests: signing and reading state. */
#ifndef ZOS_TESTS_DEVCHAIN_TESTLIB_H
#define ZOS_TESTS_DEVCHAIN_TESTLIB_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/hash.h"
#include "chainclient/meta.h"
#include "chainclient/xt.h"
#include "common/key.h"
#include "common/zerr.h"
#include "devchain/chain.h"
#include "devchain/genesis.h"
#include "devchain/pool.h"
#include "devchain/system.h"

static inline struct dev_chain *tl_open(const char *path)
{
	cJSON *g = NULL;
	struct dev_chain *c = NULL;
	assert_int_equal(dev_genesis_load(NULL, &g), 0);
	assert_int_equal(dev_chain_open(path, g, &c), 0);
	cJSON_Delete(g);
	return c;
}

static inline void tl_key(const char *name, struct zkey *k)
{
	assert_int_equal(key_dev(name, k), 0);
}

/* Balances.<call>(Id(to), value) as call bytes. */
static inline void tl_transfer_call(uint8_t call_index, const uint8_t to[32], uint64_t amount,
				    struct zbuf *out)
{
	assert_int_equal(scale_put_u8(out, 2), 0);
	assert_int_equal(scale_put_u8(out, call_index), 0);
	assert_int_equal(scale_put_u8(out, 0), 0);
	assert_int_equal(scale_put_bytes(out, to, 32), 0);
	assert_int_equal(scale_put_compact(out, amount), 0);
}

/* Signs call for the chain with nonce (immortal era unless mortal_period). */
static inline void tl_sign(struct dev_chain *c, const struct zkey *k, const struct zbuf *call,
			   uint64_t nonce, struct zbuf *out)
{
	struct xt_exts exts;
	struct xt_params p = {0};
	xt_exts_default(&exts);
	p.call = call->data;
	p.call_len = call->len;
	xt_era_immortal(&p.era);
	p.nonce = nonce;
	p.spec_version = DEV_SPEC_VERSION;
	p.tx_version = DEV_TX_VERSION;
	dev_chain_genesis_hash(c, p.genesis);
	memcpy(p.block_hash, p.genesis, 32);
	assert_int_equal(xt_sign(&exts, &p, k, out), 0);
}

static inline int tl_account(struct dev_chain *c, uint32_t at, const uint8_t who[32],
			     struct dev_account *a)
{
	uint8_t key[DEV_ACCOUNT_KEY_LEN];
	struct zbuf v;
	dev_account_key(who, key);
	zbuf_init(&v, 256);
	int rc = dev_chain_storage(c, at, key, sizeof(key), &v);
	memset(a, 0, sizeof(*a));
	if (!rc)
		rc = dev_account_decode(v.data, v.len, a);
	zbuf_free(&v);
	return rc;
}

static inline uint32_t tl_produce(struct dev_chain *c, size_t want_xts)
{
	uint32_t num;
	size_t n;
	assert_int_equal(dev_chain_produce(c, 1700000000000ull, &num, &n), 0);
	assert_int_equal(n, want_xts);
	return num;
}

/* System.Events at block `at` as JSON text (caller frees), via the
 * chainclient's generic decoder and the chain's own metadata. */
static inline char *tl_events(struct dev_chain *c, uint32_t at)
{
	size_t mlen;
	const uint8_t *mb = dev_chain_metadata(c, &mlen);
	struct meta *m;
	uint8_t key[32];
	struct zbuf v;
	cJSON *j = NULL;
	assert_int_equal(meta_decode(mb, mlen, &m), 0);
	const struct meta_storage *s = meta_storage(meta_pallet(m, "System"), "Events");
	assert_non_null(s);
	chain_storage_prefix("System", "Events", key);
	zbuf_init(&v, 1u << 24);
	if (dev_chain_storage(c, at, key, 32, &v) == ZE_ABSENT)
		assert_int_equal(zbuf_putc(&v, 0), 0);
	assert_int_equal(meta_to_json_buf(m, s->value_type, v.data, v.len, &j), 0);
	char *txt = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	zbuf_free(&v);
	meta_free(m);
	return txt;
}

#endif
