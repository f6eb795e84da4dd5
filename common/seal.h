/*
 * Workload encryption (docs/deploy-engine.md, Encryption).
 *
 *   deployment_data = 0x01 ++ nonce(24) ++ crypto_box_easy(plaintext)
 *
 * between the user twin's x25519 key and the node's x25519 key. Each side's
 * x25519 public key is the twin's `pk` when the chain has one, else it is
 * converted from the ed25519 account id. Opening the box proves that the
 * holder of the sender's key wrote it; seal_hash() is the deployment_hash.
 *
 * Plaintexts are workloads, i.e. secrets: every buffer this module returns
 * holding plaintext must be released with seal_free(), which wipes it.
 */
#ifndef ZOS_COMMON_SEAL_H
#define ZOS_COMMON_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_VERSION 0x01
#define SEAL_NONCE_LEN 24
#define SEAL_MAC_LEN 16
#define SEAL_OVERHEAD (1 + SEAL_NONCE_LEN + SEAL_MAC_LEN)
/* Default bound on deployment_data, the size the devchain accepts. */
#define SEAL_DEFAULT_MAX (16u << 10)

/*
 * The x25519 public key of a twin: its chain `pk` when present (pk != NULL),
 * which must then be exactly 32 bytes (ZE_MALFORMED otherwise), else the
 * conversion of the ed25519 account id (ZE_CRYPTO for a key that does not
 * convert, e.g. a small-order point).
 */
int seal_twin_x25519(const uint8_t *pk, size_t pk_len, const uint8_t account[32],
		     uint8_t out[32]);

/* x25519 secret key from a libsodium ed25519 secret key (seed ++ pk).
 * The caller wipes out after use. */
int seal_x25519_sk(const uint8_t ed_sk[64], uint8_t out[32]);

/*
 * Encrypts pt for recipient_pk with sender_sk under a random nonce.
 * max bounds the sealed size (0 = SEAL_DEFAULT_MAX): ZE_TOOBIG if it would
 * not fit. *out is heap memory (not secret) the caller frees with free().
 */
int seal_box(const uint8_t *pt, size_t n, const uint8_t recipient_pk[32],
	     const uint8_t sender_sk[32], size_t max, uint8_t **out, size_t *outlen);

/*
 * Opens deployment_data written by sender_pk for recipient_sk.
 * ZE_TOOBIG above max (0 = SEAL_DEFAULT_MAX), ZE_MALFORMED for a short input
 * or an unknown version byte, ZE_CRYPTO when the box does not authenticate.
 * *pt is NUL-terminated (not counted in *ptlen) so JSON parsers can read it;
 * release it with seal_free(*pt, *ptlen).
 */
int seal_open(const uint8_t *in, size_t n, const uint8_t sender_pk[32],
	      const uint8_t recipient_sk[32], size_t max, uint8_t **pt, size_t *ptlen);

/* Wipes and frees a plaintext from seal_open (NULL accepted). */
void seal_free(uint8_t *pt, size_t len);

/* blake2b-256, the deployment_hash of a plaintext document. */
void seal_hash(const void *p, size_t n, uint8_t out[32]);

/* 0 when blake2b-256(p) == want (constant time), ZE_CRYPTO otherwise. */
int seal_hash_check(const void *p, size_t n, const uint8_t want[32]);

#endif
