/* Unit tests of extrinsics: era encodings from Substrate's era.rs tests,
 * a signature reproduced from polkadot.js's ed25519 extrinsic test, a real
 * Kusama ed25519 extrinsic decoded and re-assembled byte for byte, the
 * >256-byte payload rule, and hostile inputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/hash.h"
#include "chainclient/xt.h"
#include "common/hex.h"
#include "common/zerr.h"

static uint8_t *unhex(const char *s, size_t *n)
{
	uint8_t *p;
	assert_int_equal(hex_decode_alloc(s, 1 << 20, &p, n), 0);
	return p;
}

static void era_of(uint64_t period, uint64_t cur, uint64_t want_period, uint64_t want_phase)
{
	struct xt_era e;
	xt_era_mortal(period, cur, &e);
	assert_true(e.mortal);
	assert_int_equal(e.period, want_period);
	assert_int_equal(e.phase, want_phase);
}

/* sp_runtime era.rs: era_initialization_works and friends. */
static void era_initialization(void **st)
{
	era_of(64, 42, 64, 42);
	era_of(32768, 20000, 32768, 20000);
	era_of(200, 513, 256, 1);
	era_of(2, 1, 4, 1);
	era_of(4, 5, 4, 1);
	era_of(1000000, 1000001, 65536, 1000001 % 65536 / 4 * 4);
}

static void era_encodings(void **st)
{
	struct zbuf b;
	struct xt_era e, d;
	struct scale_rd r;
	zbuf_init(&b, 0);
	xt_era_immortal(&e);
	assert_int_equal(xt_era_encode(&e, &b), 0);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.data[0], 0);

	zbuf_reset(&b);
	xt_era_mortal(64, 42, &e);
	assert_int_equal(xt_era_encode(&e, &b), 0);
	assert_int_equal(b.len, 2);
	assert_int_equal(b.data[0], 5 + 42 % 16 * 16);
	assert_int_equal(b.data[1], 42 / 16);
	scale_rd_init(&r, b.data, b.len);
	assert_int_equal(xt_era_decode(&r, &d), 0);
	assert_int_equal(d.period, 64);
	assert_int_equal(d.phase, 42);

	zbuf_reset(&b);
	xt_era_mortal(32768, 20000, &e);
	assert_int_equal(xt_era_encode(&e, &b), 0);
	assert_int_equal(b.data[0], (uint8_t)(14 + 2500 % 16 * 16));
	assert_int_equal(b.data[1], (uint8_t)(2500 / 16));
	scale_rd_init(&r, b.data, b.len);
	assert_int_equal(xt_era_decode(&r, &d), 0);
	assert_int_equal(d.period, 32768);
	assert_int_equal(d.phase, 20000);

	/* Every two-byte encoding either decodes to something that re-encodes
	 * identically, or is rejected. */
	for (unsigned v = 1; v < 65536; v++) {
		uint8_t in[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
		if (in[0] == 0)
			continue;
		scale_rd_init(&r, in, 2);
		if (xt_era_decode(&r, &d) != 0)
			continue;
		zbuf_reset(&b);
		assert_int_equal(xt_era_encode(&d, &b), 0);
		assert_memory_equal(b.data, in, 2);
	}
	/* An unquantized phase cannot be encoded without loss. */
	e.mortal = 1, e.period = 65536, e.phase = 3;
	assert_int_equal(xt_era_encode(&e, &b), -EINVAL);
	/* Period 2 (low nibble 0) is not a valid era. */
	uint8_t bad[2] = {0x10, 0x00};
	scale_rd_init(&r, bad, 2);
	assert_int_equal(xt_era_decode(&r, &d), ZE_MALFORMED);
	scale_rd_init(&r, bad, 1);
	assert_int_equal(xt_era_decode(&r, &d), ZE_MALFORMED);
	zbuf_free(&b);
}

static void era_birth_death(void **st)
{
	struct xt_era e;
	xt_era_mortal(4, 6, &e);
	for (uint64_t i = 6; i < 10; i++) {
		assert_int_equal(xt_era_birth(&e, i), 6);
		assert_int_equal(xt_era_death(&e, i), 10);
	}
	assert_int_not_equal(xt_era_birth(&e, 10), 6);
	assert_int_not_equal(xt_era_birth(&e, 5), 6);
	xt_era_mortal(4, 3, &e);
	(void)xt_era_birth(&e, 1); /* current below phase must not underflow */
}

static void key_of(const uint8_t seed[32], struct zkey *k)
{
	memset(k, 0, sizeof *k); /* scheme 0: ed25519 */
	memcpy(k->seed, seed, 32);
	assert_int_equal(crypto_sign_seed_keypair(k->pk, k->sk, seed), 0);
}

/* Substrate's ed25519 //Alice: the well-known development seed and its
 * account id (5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu). */
static void alice(struct zkey *k)
{
	uint8_t seed[32];
	assert_int_equal(hex_decode_fixed("abf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a76909115",
					  seed, 32), 0);
	key_of(seed, k);
	char pk[65];
	hex_encode(k->pk, 32, 0, pk, sizeof pk);
	assert_string_equal(pk, "88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee");
}

/* polkadot.js's ed25519 testing pair "alice": the seed is "Alice" padded
 * with spaces to 32 bytes. */
static void pjs_alice(struct zkey *k)
{
	uint8_t seed[32];
	memset(seed, ' ', sizeof seed);
	memcpy(seed, "Alice", 5);
	key_of(seed, k);
}

/* RFC 8032 section 7.1, tests 1 and 2: the ed25519 signer xt_sign uses
 * (libsodium over struct zkey) gives the RFC's keys and signatures. */
static void rfc8032_vectors(void **st)
{
	static const struct {
		const char *seed, *pk, *msg, *sig;
	} v[] = {
		{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		 "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
		 "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
		 "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
		{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		 "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
		 "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
		 "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		uint8_t seed[32], sig[64];
		char hex[129];
		size_t n;
		struct zkey k;
		assert_int_equal(hex_decode_fixed(v[i].seed, seed, 32), 0);
		key_of(seed, &k);
		hex_encode(k.pk, 32, 0, hex, sizeof hex);
		assert_string_equal(hex, v[i].pk);
		uint8_t *msg = unhex(v[i].msg, &n);
		assert_int_equal(crypto_sign_detached(sig, NULL, msg, n, k.sk), 0);
		hex_encode(sig, 64, 0, hex, sizeof hex);
		assert_string_equal(hex, v[i].sig);
		free(msg);
		sodium_memzero(&k, sizeof k);
	}
}

/*
 * polkadot.js types, extrinsic/v4/Extrinsic.spec.ts "creates a signed
 * extrinsic": the ed25519 testing pair "alice" signs balances.transfer(bob, 6969) with
 * nonce 1, tip 2, immortal era, spec version 123, and the given block hash
 * as the mortality check's data. ed25519 is deterministic, so our payload
 * must give the same signature. That test used
 * the old Address encoding (0xff prefix); the MultiAddress form differs only
 * in that byte, and in the length prefix.
 */
static void polkadot_js_signed_extrinsic(void **st)
{
	struct zkey k;
	size_t n;
	pjs_alice(&k);
	char pk[65];
	hex_encode(k.pk, 32, 0, pk, sizeof pk);
	assert_string_equal(pk, "d172a74cda4c865912c32ba0a80a57ae69abae410e5ccb59dee84e2f4432db4f");

	uint8_t *call = unhex("0600ff"
			      "d7568e5f0a7eda67a82691ff379ac4bba4f9c9b859fe779b5d46363b61ad2db9"
			      "e56c", &n);
	struct xt_params p = {.call = call, .call_len = n, .nonce = 1, .tip = 2,
			      .spec_version = 123, .tx_version = 123};
	xt_era_immortal(&p.era);
	hex_decode_fixed("dcd1346701ca8396496e52aa2785b1748deb6db09551b72159dcb3e08991025b", p.genesis, 32);
	hex_decode_fixed("ec7afaf1cca720ce88c1d1b689d81f0583cc15a97d621cf046dd9abf605ef22f", p.block_hash, 32);
	/* That runtime predates CheckTxVersion and CheckNonZeroSender. */
	struct xt_exts ex = {.ids = {XT_EXT_SPEC_VERSION, XT_EXT_GENESIS, XT_EXT_MORTALITY,
				     XT_EXT_NONCE, XT_EXT_WEIGHT, XT_EXT_PAYMENT},
			     .n = 6};

	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(xt_sign(&ex, &p, &k, &b), 0);
	char *hex = hex_encode_alloc(b.data, b.len, 1);
	assert_string_equal(hex, "0x"
		"2d02" "84"
		"00" "d172a74cda4c865912c32ba0a80a57ae69abae410e5ccb59dee84e2f4432db4f"
		"00" "b8065808da3d11ddb4167afb156eafb51e8104ba792589bb443653a7fab82b90"
		"c6530e838df06bfc8befcbbcfca7e219350cff865439b815b10b8e64ae1e9b01"
		"000408"
		"0600ff" "d7568e5f0a7eda67a82691ff379ac4bba4f9c9b859fe779b5d46363b61ad2db9" "e56c");
	free(hex);

	/* The devchain's path: decode, then verify against the chain's values. */
	struct xt_decoded d;
	assert_int_equal(xt_decode(&ex, b.data, b.len, &d), 0);
	assert_true(d.is_signed);
	assert_memory_equal(d.signer, k.pk, 32);
	assert_int_equal(d.nonce, 1);
	assert_true(d.tip == 2);
	assert_false(d.era.mortal);
	assert_int_equal(d.call_len, n);
	assert_memory_equal(d.call, call, n);
	assert_int_equal(xt_verify(&ex, &d, 123, 123, p.genesis, p.block_hash), 0);
	assert_int_equal(xt_verify(&ex, &d, 124, 123, p.genesis, p.block_hash), ZE_CRYPTO);
	assert_int_equal(xt_verify(&ex, &d, 123, 123, p.genesis, NULL), ZE_CRYPTO);
	uint8_t h[32];
	xt_hash(b.data, b.len, h);
	uint8_t h2[32];
	chain_blake2_256(b.data, b.len, h2);
	assert_memory_equal(h, h2, 32);
	zbuf_free(&b);
	free(call);
	sodium_memzero(&k, sizeof k);
}

/*
 * The current polkadot.js ExtrinsicV4 test: the same transfer with
 * MultiAddress (dest and signer), spec and tx version 123, under today's
 * signed extensions. Reproduced byte for byte, length prefix included.
 */
static void polkadot_js_multiaddress_extrinsic(void **st)
{
	struct zkey k;
	size_t n;
	pjs_alice(&k);
	uint8_t *call = unhex("060000"
			      "d7568e5f0a7eda67a82691ff379ac4bba4f9c9b859fe779b5d46363b61ad2db9"
			      "e56c", &n);
	struct xt_params p = {.call = call, .call_len = n, .nonce = 1, .tip = 2,
			      .spec_version = 123, .tx_version = 123};
	xt_era_immortal(&p.era);
	hex_decode_fixed("dcd1346701ca8396496e52aa2785b1748deb6db09551b72159dcb3e08991025b", p.genesis, 32);
	hex_decode_fixed("ec7afaf1cca720ce88c1d1b689d81f0583cc15a97d621cf046dd9abf605ef22f", p.block_hash, 32);
	struct xt_exts ex;
	xt_exts_default(&ex);
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(xt_sign(&ex, &p, &k, &b), 0);
	char *hex = hex_encode_alloc(b.data, b.len, 1);
	assert_string_equal(hex, "0x"
		"2d02" "84"
		"00" "d172a74cda4c865912c32ba0a80a57ae69abae410e5ccb59dee84e2f4432db4f"
		"00" "ab31e8dbdbf37398f9a42cfe473e17f6e2e05d8d7a1612513fa73f5f6ad3bfdb"
		"adbabd920d033ad48999d9dc6a07e3e7ffb9a503128c94bf4fd97aeb4523f90e"
		"000408"
		"060000" "d7568e5f0a7eda67a82691ff379ac4bba4f9c9b859fe779b5d46363b61ad2db9" "e56c");
	free(hex);
	zbuf_free(&b);
	free(call);
	sodium_memzero(&k, sizeof k);
}

/* A real Kusama transfer signed with ed25519 (polkadot.js Extrinsic.spec.ts
 * "decodes an actual transaction"): decodes, and re-assembles identically. */
static void kusama_extrinsic_round_trip(void **st)
{
	size_t n;
	uint8_t *x = unhex("5d02" "84"
			   "00" "fcc4910cb536b4333db4bccb40e2cf6427b4766518e754b91e70c97e4a87dbb3"
			   "00" "d99ffe3e610ad234e1414bda5831395a6df9098bf80b01561ce89a5065ae89d5"
			   "c10e1619c6c99131b0bea4fb73ef04d07c07770e2ae9df5c325c331769ccb300"
			   "a90b" "1101" "0700ac23fc06"
			   "0400" "00" "495e1e506f266418af07fa0c5c108dd436f2faa59fe7d9e54403779f5bbd7718"
			   "0bc01eb1fc185f", &n);
	struct xt_exts ex;
	struct xt_decoded d;
	xt_exts_default(&ex);
	assert_int_equal(xt_decode(&ex, x, n, &d), 0);
	assert_true(d.era.mortal);
	assert_int_equal(d.era.period, 1024);
	assert_int_equal(d.era.phase, 186);
	assert_int_equal(d.nonce, 68);
	assert_true(d.tip == 30000000000ull);
	assert_int_equal(d.call_len, 2 + 33 + 7);
	assert_int_equal(d.call[0], 4);

	struct xt_params p = {.call = d.call, .call_len = d.call_len, .era = d.era,
			      .nonce = d.nonce, .tip = d.tip};
	struct zbuf b;
	zbuf_init(&b, 0);
	assert_int_equal(xt_assemble(&ex, &p, d.signer, d.sig, &b), 0);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, x, n);
	zbuf_free(&b);

	/* Every truncation and a length prefix that lies are errors. */
	for (size_t k = 0; k < n; k++) {
		uint8_t *cut = malloc(k ? k : 1);
		memcpy(cut, x, k);
		assert_int_not_equal(xt_decode(&ex, cut, k, &d), 0);
		free(cut);
	}
	x[0] = 0x59;
	assert_int_equal(xt_decode(&ex, x, n, &d), ZE_MALFORMED);
	x[0] = 0x5d;
	x[3] = 0x01; /* Sr25519 signature kind */
	assert_int_equal(xt_decode(&ex, x, n, &d), ZE_UNSUPPORTED);
	free(x);
}

/* Payloads over 256 bytes are signed through their blake2b-256. */
static void long_payload_is_hashed(void **st)
{
	struct zkey k;
	alice(&k);
	uint8_t call[300];
	for (size_t i = 0; i < sizeof call; i++)
		call[i] = (uint8_t)i;
	struct xt_params p = {.call = call, .call_len = sizeof call, .nonce = 7,
			      .spec_version = 1, .tx_version = 1};
	xt_era_mortal(64, 1000, &p.era);
	memset(p.genesis, 0x11, 32);
	memset(p.block_hash, 0x22, 32);
	struct xt_exts ex;
	xt_exts_default(&ex);

	struct zbuf pl, raw;
	zbuf_init(&pl, 0);
	zbuf_init(&raw, 0);
	assert_int_equal(xt_signing_payload(&ex, &p, &pl), 0);
	assert_int_equal(pl.len, 32);
	/* The raw payload: call ++ era ++ nonce ++ tip ++ versions ++ hashes. */
	zbuf_put(&raw, call, sizeof call);
	xt_era_encode(&p.era, &raw);
	scale_put_compact(&raw, 7);
	scale_put_compact(&raw, 0);
	scale_put_u32(&raw, 1);
	scale_put_u32(&raw, 1);
	zbuf_put(&raw, p.genesis, 32);
	zbuf_put(&raw, p.block_hash, 32);
	uint8_t h[32];
	chain_blake2_256(raw.data, raw.len, h);
	assert_memory_equal(pl.data, h, 32);

	/* Exactly 256 bytes stay raw. */
	p.call_len = 256 - (raw.len - sizeof call);
	zbuf_reset(&pl);
	assert_int_equal(xt_signing_payload(&ex, &p, &pl), 0);
	assert_int_equal(pl.len, 256);
	p.call_len++;
	zbuf_reset(&pl);
	assert_int_equal(xt_signing_payload(&ex, &p, &pl), 0);
	assert_int_equal(pl.len, 32);

	p.call_len = sizeof call;
	struct zbuf x;
	struct xt_decoded d;
	zbuf_init(&x, 0);
	assert_int_equal(xt_sign(&ex, &p, &k, &x), 0);
	assert_int_equal(xt_decode(&ex, x.data, x.len, &d), 0);
	assert_int_equal(crypto_sign_verify_detached(d.sig, h, 32, k.pk), 0);
	assert_int_equal(xt_verify(&ex, &d, 1, 1, p.genesis, p.block_hash), 0);
	zbuf_free(&x);
	zbuf_free(&pl);
	zbuf_free(&raw);
	sodium_memzero(&k, sizeof k);
}

/* An sr25519 key signs with MultiSignature::Sr25519; the signature
 * verifies over the same payload and a flipped bit does not. */
static void sr25519_extrinsic(void **st)
{
	struct zkey k;
	uint8_t call[] = {0x06, 0x00, 1, 2, 3};
	assert_int_equal(key_from_suri("//Alice", KEY_SR25519, NULL, &k), 0);
	struct xt_params p = {.call = call, .call_len = sizeof call, .nonce = 3,
			      .spec_version = 5, .tx_version = 2};
	xt_era_immortal(&p.era);
	memset(p.genesis, 0x33, 32);
	memcpy(p.block_hash, p.genesis, 32);
	struct xt_exts ex;
	xt_exts_default(&ex);
	struct zbuf x;
	struct xt_decoded d;
	zbuf_init(&x, 0);
	assert_int_equal(xt_sign(&ex, &p, &k, &x), 0);
	assert_int_equal(xt_decode(&ex, x.data, x.len, &d), 0);
	assert_int_equal(d.sig_scheme, KEY_SR25519);
	assert_memory_equal(d.signer, k.pk, 32);
	assert_int_equal(x.data[2 + 1 + 33], 1);
	assert_int_equal(xt_verify(&ex, &d, 5, 2, p.genesis, NULL), 0);
	assert_int_equal(xt_verify(&ex, &d, 6, 2, p.genesis, NULL), ZE_CRYPTO);
	d.sig[3] ^= 1;
	assert_int_equal(xt_verify(&ex, &d, 5, 2, p.genesis, NULL), ZE_CRYPTO);
	/* ecdsa (variant 2) is not supported. */
	x.data[2 + 1 + 33] = 2;
	assert_int_equal(xt_decode(&ex, x.data, x.len, &d), ZE_UNSUPPORTED);
	zbuf_free(&x);
	key_wipe(&k);
}

static void unsigned_extrinsic(void **st)
{
	uint8_t call[] = {0x02, 0x00, 0x0b, 0x00};
	struct zbuf b;
	struct xt_exts ex;
	struct xt_decoded d;
	xt_exts_default(&ex);
	zbuf_init(&b, 0);
	assert_int_equal(xt_unsigned(call, sizeof call, &b), 0);
	assert_int_equal(b.len, 6);
	assert_int_equal(b.data[0], 5 << 2);
	assert_int_equal(b.data[1], 0x04);
	assert_int_equal(xt_decode(&ex, b.data, b.len, &d), 0);
	assert_false(d.is_signed);
	assert_int_equal(d.call_len, 4);
	uint8_t g[32] = {0};
	assert_int_equal(xt_verify(&ex, &d, 1, 1, g, NULL), -EINVAL);
	b.data[1] = 0x05; /* another extrinsic version */
	assert_int_equal(xt_decode(&ex, b.data, b.len, &d), ZE_UNSUPPORTED);
	zbuf_free(&b);

	/* Past XT_MAX_LEN, refused before looking inside. */
	uint8_t *big = calloc(1, XT_MAX_LEN + 16);
	assert_non_null(big);
	assert_int_equal(xt_decode(&ex, big, XT_MAX_LEN + 16, &d), ZE_TOOBIG);
	big[0] = 0x03, big[4] = 0x01; /* compact 2^24 + ... in big mode: over the cap */
	assert_int_not_equal(xt_decode(&ex, big, 64, &d), 0);
	free(big);
}

static void garbage_never_crashes(void **st)
{
	struct xt_exts ex;
	struct xt_decoded d;
	xt_exts_default(&ex);
	uint32_t s = 12345;
	for (int iter = 0; iter < 20000; iter++) {
		uint8_t buf[160];
		size_t n = (size_t)(iter % 160);
		for (size_t i = 0; i < n; i++) {
			s = s * 1103515245u + 12345u;
			buf[i] = (uint8_t)(s >> 16);
		}
		if (n > 2 && iter % 2) {
			/* Give half the inputs a consistent length prefix. */
			buf[0] = (uint8_t)((n - 1) << 2);
			buf[1] = (uint8_t)(0x84 | (iter & 1));
			if (n - 1 >= 64)
				continue;
		}
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, buf, n);
		(void)xt_decode(&ex, p, n, &d);
		free(p);
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(era_initialization),
		cmocka_unit_test(era_encodings),
		cmocka_unit_test(era_birth_death),
		cmocka_unit_test(rfc8032_vectors),
		cmocka_unit_test(polkadot_js_signed_extrinsic),
		cmocka_unit_test(polkadot_js_multiaddress_extrinsic),
		cmocka_unit_test(kusama_extrinsic_round_trip),
		cmocka_unit_test(long_payload_is_hashed),
		cmocka_unit_test(sr25519_extrinsic),
		cmocka_unit_test(unsigned_extrinsic),
		cmocka_unit_test(garbage_never_crashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
