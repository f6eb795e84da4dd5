/*
 * sr25519: schnorrkel's Schnorr signatures over Ristretto255 with Substrate's
 * "substrate" signing context, and its hierarchical key derivation (HDKD).
 *
 * A secret is 64 bytes: the key scalar (canonical, little-endian) ++ the
 * signing nonce seed. Mini-secrets (32 bytes) expand to it the way Substrate
 * does (schnorrkel's ExpansionMode::Ed25519). Callers wipe secrets with
 * sodium_memzero. Every function returns 0 or a negative error (ZE_CRYPTO
 * for a signature that does not verify or a point that does not decode).
 */
#ifndef ZOS_COMMON_SR25519_H
#define ZOS_COMMON_SR25519_H

#include <stddef.h>
#include <stdint.h>

int sr25519_from_mini(const uint8_t mini[32], uint8_t sk[64], uint8_t pk[32]);
/* pk must be the public key of sk (it is bound into the signature). */
int sr25519_sign(const uint8_t sk[64], const uint8_t pk[32], const uint8_t *msg, size_t n,
		 uint8_t sig[64]);
int sr25519_verify(const uint8_t pk[32], const uint8_t *msg, size_t n, const uint8_t sig[64]);

/* Hard junction with chain code cc: the derived mini-secret (Substrate
 * expands it with sr25519_from_mini). */
int sr25519_derive_hard(const uint8_t sk[64], const uint8_t cc[32], uint8_t mini[32]);
/* Soft junction: the derived secret and public key. */
int sr25519_derive_soft(const uint8_t sk[64], const uint8_t cc[32], uint8_t out_sk[64],
			uint8_t out_pk[32]);
/* Soft junction from a public key alone (gives the same public key). */
int sr25519_derive_soft_public(const uint8_t pk[32], const uint8_t cc[32], uint8_t out[32]);

#endif
