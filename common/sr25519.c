/*
 * sr25519 (schnorrkel) on libsodium's Ristretto255 group and scalar
 * arithmetic, with Merlin transcripts (common/merlin.c) for every hash.
 *
 * Only the public steps branch on data: verification and the challenge
 * scalars. Secret scalars go through libsodium's constant-time scalar and
 * base-point multiplication only.
 */
#include "common/sr25519.h"

#include <sodium.h>
#include <string.h>

#include "common/merlin.h"
#include "common/zerr.h"

#define CTX "substrate"

/* Merlin's labelled append of a compressed point or a scalar. */
static void commit(struct merlin *t, const char *label, const uint8_t b[32])
{
	merlin_append(t, label, b, 32);
}

static void challenge_scalar(struct merlin *t, const char *label, uint8_t out[32])
{
	uint8_t wide[64];
	merlin_challenge(t, label, wide, sizeof wide);
	crypto_core_ristretto255_scalar_reduce(out, wide);
}

/* x * B; libsodium returns -1 for the identity, which is still encoded
 * (as 32 zero bytes) in out. */
static void base_mul(uint8_t out[32], const uint8_t x[32])
{
	int identity = crypto_scalarmult_ristretto255_base(out, x);
	(void)identity;
}

int sr25519_from_mini(const uint8_t mini[32], uint8_t sk[64], uint8_t pk[32])
{
	uint8_t h[64];
	crypto_hash_sha512(h, mini, 32);
	/* Ed25519's clamping, then a division by the cofactor 8 so that the
	 * scalar is canonical mod l (schnorrkel's "Ed25519" expansion). */
	h[0] &= 248;
	h[31] &= 63;
	h[31] |= 64;
	uint8_t low = 0;
	for (int i = 31; i >= 0; i--) {
		uint8_t r = h[i] & 7;
		h[i] = (uint8_t)((h[i] >> 3) + low);
		low = (uint8_t)(r << 5);
	}
	memcpy(sk, h, 64);
	base_mul(pk, sk);
	sodium_memzero(h, sizeof h);
	return 0;
}

/* The transcript of a "substrate" context signature of msg. */
static void sig_transcript(struct merlin *t, const uint8_t *msg, size_t n)
{
	merlin_init(t, "SigningContext");
	merlin_append(t, "", (const uint8_t *)CTX, strlen(CTX));
	merlin_append(t, "sign-bytes", msg, n);
	merlin_append(t, "proto-name", (const uint8_t *)"Schnorr-sig", 11);
}

int sr25519_sign(const uint8_t sk[64], const uint8_t pk[32], const uint8_t *msg, size_t n,
		 uint8_t sig[64])
{
	struct merlin t;
	uint8_t wide[64], r[32], R[32], k[32], s[32];
	const uint8_t *wit[1] = {sk + 32};
	size_t wlen[1] = {32};

	sig_transcript(&t, msg, n);
	commit(&t, "sign:pk", pk);
	merlin_witness(&t, "signing", wit, wlen, 1, wide, sizeof wide);
	crypto_core_ristretto255_scalar_reduce(r, wide);
	base_mul(R, r);
	commit(&t, "sign:R", R);
	challenge_scalar(&t, "sign:c", k);
	crypto_core_ristretto255_scalar_mul(s, k, sk);
	crypto_core_ristretto255_scalar_add(s, s, r);
	memcpy(sig, R, 32);
	memcpy(sig + 32, s, 32);
	/* The high bit tells schnorrkel signatures apart from ed25519 ones. */
	sig[63] |= 0x80;
	sodium_memzero(wide, sizeof wide);
	sodium_memzero(r, sizeof r);
	sodium_memzero(s, sizeof s);
	merlin_wipe(&t);
	return 0;
}

/* s < l, the group order, little-endian. */
static int scalar_canonical(const uint8_t s[32])
{
	static const uint8_t l[32] = {
		0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
		0xa2, 0xde, 0xf9, 0xde, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
	};
	for (int i = 31; i >= 0; i--) {
		if (s[i] < l[i])
			return 1;
		if (s[i] > l[i])
			return 0;
	}
	return 0;
}

int sr25519_verify(const uint8_t pk[32], const uint8_t *msg, size_t n, const uint8_t sig[64])
{
	struct merlin t;
	uint8_t s[32], k[32], sB[32], kA[32], R[32];

	if (!(sig[63] & 0x80))
		return ZE_CRYPTO;
	memcpy(s, sig + 32, 32);
	s[31] &= 0x7f;
	if (!scalar_canonical(s) || !crypto_core_ristretto255_is_valid_point(pk))
		return ZE_CRYPTO;
	sig_transcript(&t, msg, n);
	commit(&t, "sign:pk", pk);
	commit(&t, "sign:R", sig);
	challenge_scalar(&t, "sign:c", k);
	merlin_wipe(&t);
	/* R' = s*B - k*A must be the signature's R, compared as encodings. */
	base_mul(sB, s);
	int identity = crypto_scalarmult_ristretto255(kA, k, pk);
	(void)identity;
	if (crypto_core_ristretto255_sub(R, sB, kA) != 0)
		return ZE_CRYPTO;
	return sodium_memcmp(R, sig, 32) == 0 ? 0 : ZE_CRYPTO;
}

int sr25519_derive_hard(const uint8_t sk[64], const uint8_t cc[32], uint8_t mini[32])
{
	struct merlin t;
	merlin_init(&t, "SchnorrRistrettoHDKD");
	merlin_append(&t, "sign-bytes", NULL, 0);
	merlin_append(&t, "chain-code", cc, 32);
	merlin_append(&t, "secret-key", sk, 32);
	merlin_challenge(&t, "HDKD-hard", mini, 32);
	merlin_wipe(&t);
	return 0;
}

/* The soft junction's scalar (and transcript, for the nonce). */
static void soft_scalar(struct merlin *t, const uint8_t pk[32], const uint8_t cc[32],
			uint8_t scalar[32])
{
	uint8_t cc_out[32];
	merlin_init(t, "SchnorrRistrettoHDKD");
	merlin_append(t, "sign-bytes", NULL, 0);
	merlin_append(t, "chain-code", cc, 32);
	merlin_append(t, "public-key", pk, 32);
	challenge_scalar(t, "HDKD-scalar", scalar);
	/* The next chain code is part of the transcript the nonce binds to. */
	merlin_challenge(t, "HDKD-chaincode", cc_out, sizeof cc_out);
}

int sr25519_derive_soft_public(const uint8_t pk[32], const uint8_t cc[32], uint8_t out[32])
{
	struct merlin t;
	uint8_t scalar[32], sB[32];
	if (!crypto_core_ristretto255_is_valid_point(pk))
		return ZE_CRYPTO;
	soft_scalar(&t, pk, cc, scalar);
	merlin_wipe(&t);
	base_mul(sB, scalar);
	return crypto_core_ristretto255_add(out, pk, sB) == 0 ? 0 : ZE_CRYPTO;
}

int sr25519_derive_soft(const uint8_t sk[64], const uint8_t cc[32], uint8_t out_sk[64],
			uint8_t out_pk[32])
{
	struct merlin t;
	uint8_t pk[32], scalar[32], nonce[32];
	const uint8_t *wit[2] = {sk + 32, sk};
	size_t wlen[2] = {32, 64};

	base_mul(pk, sk);
	soft_scalar(&t, pk, cc, scalar);
	/* The nonce seed only protects signatures from a weak RNG; schnorrkel
	 * draws it from the transcript, both secrets and fresh randomness. */
	merlin_witness(&t, "HDKD-nonce", wit, wlen, 2, nonce, sizeof nonce);
	merlin_wipe(&t);
	crypto_core_ristretto255_scalar_add(out_sk, sk, scalar);
	memcpy(out_sk + 32, nonce, 32);
	base_mul(out_pk, out_sk);
	sodium_memzero(nonce, sizeof nonce);
	return 0;
}
