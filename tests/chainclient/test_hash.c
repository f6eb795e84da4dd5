/* Unit tests of the hashers and storage keys, against Substrate's public
 * values (sp_core hashing tests, well-known storage prefixes). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "chainclient/hash.h"
#include "common/hex.h"
#include "common/zerr.h"

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
	char s[512];
	assert_int_equal(hex_encode(p, n, 0, s, sizeof s), 0);
	assert_string_equal(s, want);
}

static void twox_vectors(void **st)
{
	uint8_t h[32];
	chain_twox64("", 0, h);
	assert_hex(h, 8, "99e9d85137db46ef");
	chain_twox128("", 0, h);
	assert_hex(h, 16, "99e9d85137db46ef4bbea33613baafd5");
	chain_twox128("System", 6, h);
	assert_hex(h, 16, "26aa394eea5630e07c48ae0c9558cef7");
	chain_twox128("Account", 7, h);
	assert_hex(h, 16, "b99d880ec681799c0cf30e8886371da9");
	/* twox256 extends twox128 with seeds 2 and 3. */
	uint8_t h128[16];
	chain_twox256("System", 6, h);
	chain_twox128("System", 6, h128);
	assert_memory_equal(h, h128, 16);
	assert_memory_not_equal(h + 16, h128, 16);
}

static void blake2_vectors(void **st)
{
	uint8_t h[32];
	chain_blake2_256("", 0, h);
	assert_hex(h, 32, "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
	uint8_t alice[32];
	assert_int_equal(hex_decode_fixed("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",
					  alice, 32), 0);
	chain_blake2_128(alice, 32, h);
	assert_hex(h, 16, "de1e86a9a8c739864cf3cc5ec2bea59f");
}

static void plain_value_prefixes(void **st)
{
	uint8_t k[32];
	chain_storage_prefix("Timestamp", "Now", k);
	assert_hex(k, 32, "f0c365c3cf59d671eb72da0e7a4113c49f1f0515f462cdcf84e0f1d6045dfcbb");
	chain_storage_prefix("Balances", "TotalIssuance", k);
	assert_hex(k, 32, "c2261276cc9d1f8598ea4b6a74b15c2f57c875e4cff74148e4628f264b974c80");

	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(chain_storage_key("Timestamp", "Now", 0, NULL, NULL, NULL, &b), 0);
	assert_hex(b.data, b.len, "f0c365c3cf59d671eb72da0e7a4113c49f1f0515f462cdcf84e0f1d6045dfcbb");
	zbuf_free(&b);
}

/* The well-known System.Account key of //Alice (sr25519 account id). */
static void system_account_key(void **st)
{
	uint8_t alice[32];
	assert_int_equal(hex_decode_fixed("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",
					  alice, 32), 0);
	enum chain_hasher h = CHAIN_HASHER_BLAKE2_128_CONCAT;
	const uint8_t *keys[] = {alice};
	size_t lens[] = {32};
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(chain_storage_key("System", "Account", 1, &h, keys, lens, &b), 0);
	assert_hex(b.data, b.len,
		   "26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9"
		   "de1e86a9a8c739864cf3cc5ec2bea59f"
		   "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d");

	const uint8_t *key;
	size_t klen;
	assert_int_equal(chain_storage_map_key(b.data, b.len, h, &key, &klen), 0);
	assert_int_equal(klen, 32);
	assert_memory_equal(key, alice, 32);
	/* A key cut inside the hash is malformed, not an over-read. */
	assert_int_equal(chain_storage_map_key(b.data, 40, h, &key, &klen), ZE_MALFORMED);
	assert_int_equal(chain_storage_map_key(b.data, 31, h, &key, &klen), ZE_MALFORMED);
	assert_int_equal(chain_storage_map_key(b.data, b.len, CHAIN_HASHER_BLAKE2_256, &key, &klen),
			 ZE_UNSUPPORTED);
	zbuf_free(&b);
}

static void double_map_and_every_hasher(void **st)
{
	uint8_t k1[4] = {1, 0, 0, 0}, k2[8] = {7, 0, 0, 0, 0, 0, 0, 0};
	enum chain_hasher hs[] = {CHAIN_HASHER_TWOX64_CONCAT, CHAIN_HASHER_IDENTITY};
	const uint8_t *keys[] = {k1, k2};
	size_t lens[] = {4, 8};
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(chain_storage_key("P", "I", 2, hs, keys, lens, &b), 0);
	assert_int_equal(b.len, 32 + 8 + 4 + 8);
	uint8_t h[16];
	chain_twox64(k1, 4, h);
	assert_memory_equal(b.data + 32, h, 8);
	assert_memory_equal(b.data + 40, k1, 4);
	assert_memory_equal(b.data + 44, k2, 8);

	const uint8_t *got[2];
	size_t got_len[2], sizes[2] = {4, 0};
	assert_int_equal(chain_storage_key_parts(b.data, b.len, 2, hs, sizes, got, got_len), 0);
	assert_int_equal(got_len[0], 4);
	assert_int_equal(got_len[1], 8);
	assert_memory_equal(got[1], k2, 8);
	sizes[1] = 4; /* leaves 4 bytes over */
	assert_int_equal(chain_storage_key_parts(b.data, b.len, 2, hs, sizes, got, got_len),
			 ZE_MALFORMED);
	zbuf_free(&b);

	for (int i = CHAIN_HASHER_BLAKE2_128; i <= CHAIN_HASHER_IDENTITY; i++) {
		enum chain_hasher p;
		zbuf_init(&b, 0);
		assert_int_equal(chain_hash_key((enum chain_hasher)i, k1, 4, &b), 0);
		size_t want = chain_hasher_prefix_len((enum chain_hasher)i) +
			      (chain_hasher_is_concat((enum chain_hasher)i) ? 4 : 0);
		assert_int_equal(b.len, want);
		assert_int_equal(chain_hasher_parse(chain_hasher_name((enum chain_hasher)i), &p), 0);
		assert_int_equal(p, i);
		zbuf_free(&b);
	}
	enum chain_hasher p;
	assert_int_equal(chain_hasher_parse("Sha256", &p), -EINVAL);
	zbuf_init(&b, 0);
	assert_int_equal(chain_hash_key((enum chain_hasher)42, k1, 4, &b), -EINVAL);
	zbuf_free(&b);
}

static void key_respects_buffer_cap(void **st)
{
	uint8_t k[32] = {0};
	enum chain_hasher h = CHAIN_HASHER_BLAKE2_128_CONCAT;
	const uint8_t *keys[] = {k};
	size_t lens[] = {32};
	struct zbuf b;
	zbuf_init(&b, 64);
	assert_int_equal(chain_storage_key("System", "Account", 1, &h, keys, lens, &b), ZE_TOOBIG);
	assert_int_equal(b.len, 0);
	zbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(twox_vectors),
		cmocka_unit_test(blake2_vectors),
		cmocka_unit_test(plain_value_prefixes),
		cmocka_unit_test(system_account_key),
		cmocka_unit_test(double_map_and_every_hasher),
		cmocka_unit_test(key_respects_buffer_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
