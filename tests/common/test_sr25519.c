/* Unit tests of common/merlin and common/sr25519: Keccak against OpenSSL's
 * SHA3, Merlin's published transcript vector, sr25519 signatures (including
 * one made by polkadot.js) and HDKD. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "common/hex.h"
#include "common/merlin.h"
#include "common/sr25519.h"
#include "common/zerr.h"

/* SHA3-256 built on our permutation (rate 136, domain byte 0x06). */
static void sha3_256(const uint8_t *m, size_t n, uint8_t out[32])
{
	uint8_t st[200] = {0};
	size_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		st[pos++] ^= m[i];
		if (pos == 136) {
			merlin_keccak_f1600(st);
			pos = 0;
		}
	}
	st[pos] ^= 0x06;
	st[135] ^= 0x80;
	merlin_keccak_f1600(st);
	memcpy(out, st, 32);
}

static void keccak_matches_openssl_sha3(void **state)
{
	uint8_t msg[600], ours[32], theirs[32];
	unsigned len;
	randombytes_buf(msg, sizeof msg);
	/* Lengths around the rate boundary exercise the padding and absorb. */
	size_t lens[] = {0, 1, 135, 136, 137, 271, 272, 600};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		sha3_256(msg, lens[i], ours);
		assert_int_equal(EVP_Digest(msg, lens[i], theirs, &len, EVP_sha3_256(), NULL), 1);
		assert_memory_equal(ours, theirs, 32);
	}
}

static void merlin_published_vector(void **state)
{
	struct merlin t;
	uint8_t c[32], want[32];
	merlin_init(&t, "test protocol");
	merlin_append(&t, "some label", (const uint8_t *)"some data", 9);
	merlin_challenge(&t, "challenge", c, sizeof c);
	assert_int_equal(
	    hex_decode_fixed("d5a21972d0d5fe320c0d263fac7fffb8145aa640af6e9bca177c03c7efcf0615",
			     want, 32),
	    0);
	assert_memory_equal(c, want, 32);
	/* A different message changes the challenge. */
	merlin_init(&t, "test protocol");
	merlin_append(&t, "some label", (const uint8_t *)"some dat4", 9);
	merlin_challenge(&t, "challenge", c, sizeof c);
	assert_memory_not_equal(c, want, 32);
}

static void sign_verify_round_trip(void **state)
{
	uint8_t mini[32], sk[64], pk[32], sig[64], sig2[64], msg[100];
	for (int round = 0; round < 20; round++) {
		randombytes_buf(mini, sizeof mini);
		randombytes_buf(msg, sizeof msg);
		size_t n = (size_t)round * 5;
		assert_int_equal(sr25519_from_mini(mini, sk, pk), 0);
		assert_int_equal(sr25519_sign(sk, pk, msg, n, sig), 0);
		assert_true(sig[63] & 0x80);
		assert_int_equal(sr25519_verify(pk, msg, n, sig), 0);
		/* Signatures are randomised, and both verify. */
		assert_int_equal(sr25519_sign(sk, pk, msg, n, sig2), 0);
		assert_memory_not_equal(sig, sig2, 64);
		assert_int_equal(sr25519_verify(pk, msg, n, sig2), 0);
		/* Every flipped bit of the signature is refused. */
		for (int bit = 0; bit < 512; bit += 7) {
			memcpy(sig2, sig, 64);
			sig2[bit / 8] ^= (uint8_t)(1 << (bit % 8));
			assert_int_equal(sr25519_verify(pk, msg, n, sig2), ZE_CRYPTO);
		}
		if (n) {
			msg[0] ^= 1;
			assert_int_equal(sr25519_verify(pk, msg, n, sig), ZE_CRYPTO);
		}
	}
}

/* A signature polkadot.js (@polkadot/util-crypto 13.5.9) made with //Alice
 * over "zos-agent sr25519 vector". */
static void verifies_polkadotjs_signature(void **state)
{
	uint8_t pk[32], sig[64];
	const char *msg = "zos-agent sr25519 vector";
	assert_int_equal(
	    hex_decode_fixed("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d", pk,
			     32),
	    0);
	assert_int_equal(
	    hex_decode_fixed("8a5cda84b678f81db40f0ba8672e385a66a647ba86f3a09bc1b3852027189271"
			     "081cc14dbb3899f934485644be5939dcfef546041680762d46437197e724278f",
			     sig, 64),
	    0);
	assert_int_equal(sr25519_verify(pk, (const uint8_t *)msg, strlen(msg), sig), 0);
	assert_int_equal(sr25519_verify(pk, (const uint8_t *)msg, strlen(msg) - 1, sig), ZE_CRYPTO);
	/* Without schnorrkel's marker bit the signature is refused. */
	sig[63] &= 0x7f;
	assert_int_equal(sr25519_verify(pk, (const uint8_t *)msg, strlen(msg), sig), ZE_CRYPTO);
}

static void soft_derivation_public_matches_secret(void **state)
{
	uint8_t mini[32], sk[64], pk[32], cc[32], dsk[64], dpk[32], ppk[32], sig[64];
	randombytes_buf(mini, sizeof mini);
	randombytes_buf(cc, sizeof cc);
	assert_int_equal(sr25519_from_mini(mini, sk, pk), 0);
	assert_int_equal(sr25519_derive_soft(sk, cc, dsk, dpk), 0);
	assert_int_equal(sr25519_derive_soft_public(pk, cc, ppk), 0);
	assert_memory_equal(dpk, ppk, 32);
	assert_memory_not_equal(dpk, pk, 32);
	assert_int_equal(sr25519_sign(dsk, dpk, (const uint8_t *)"x", 1, sig), 0);
	assert_int_equal(sr25519_verify(dpk, (const uint8_t *)"x", 1, sig), 0);
	assert_int_equal(sr25519_verify(pk, (const uint8_t *)"x", 1, sig), ZE_CRYPTO);
	/* A hard junction gives a different key from the soft one. */
	uint8_t hmini[32], hsk[64], hpk[32];
	assert_int_equal(sr25519_derive_hard(sk, cc, hmini), 0);
	assert_int_equal(sr25519_from_mini(hmini, hsk, hpk), 0);
	assert_memory_not_equal(hpk, dpk, 32);
}

static void bad_public_key_is_refused(void **state)
{
	uint8_t pk[32], sig[64] = {0};
	memset(pk, 0xff, sizeof pk); /* not a canonical Ristretto encoding */
	sig[63] = 0x80;
	assert_int_equal(sr25519_verify(pk, (const uint8_t *)"m", 1, sig), ZE_CRYPTO);
	assert_int_equal(sr25519_derive_soft_public(pk, pk, sig), ZE_CRYPTO);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keccak_matches_openssl_sha3),
		cmocka_unit_test(merlin_published_vector),
		cmocka_unit_test(sign_verify_round_trip),
		cmocka_unit_test(verifies_polkadotjs_signature),
		cmocka_unit_test(soft_derivation_public_matches_secret),
		cmocka_unit_test(bad_public_key_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
