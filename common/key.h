/*
 * ed25519 account keys, dev accounts, seed files, SS58, x25519 conversion.
 *
 * A struct zkey holds secret material: wipe it with key_wipe() when done.
 */
#ifndef ZOS_COMMON_KEY_H
#define ZOS_COMMON_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct zkey {
	uint8_t seed[32];
	uint8_t pk[32]; /* the AccountId32 of an ed25519 account */
	uint8_t sk[64]; /* libsodium's secret key (seed ++ pk) */
};

int key_from_seed(const uint8_t seed[32], struct zkey *k);
int key_generate(struct zkey *k);
/* Substrate's ed25519 dev accounts: alice, bob, charlie, dave, eve, ferdie
 * (case-insensitive, "//Alice" accepted), hard-derived from the dev phrase. */
int key_dev(const char *name, struct zkey *k);
/* Seed file: 64 hex digits (optional 0x, trailing newline). Refuses a file
 * readable by group or others (-EPERM) so a leaked seed is not used. */
int key_seed_file_load(const char *path, struct zkey *k);
/* Creates a new seed file with mode 0600 (O_EXCL); -EEXIST if present. */
int key_seed_file_create(const char *path, struct zkey *k);
/* Loads path, creating it first when missing; *created set to 1 if so. */
int key_load_or_create(const char *path, struct zkey *k, int *created);
void key_wipe(struct zkey *k);

int key_sign(const struct zkey *k, const uint8_t *msg, size_t n, uint8_t sig[64]);
/* 0 when valid, ZE_CRYPTO otherwise. */
int key_verify(const uint8_t pk[32], const uint8_t *msg, size_t n, const uint8_t sig[64]);

/* x25519 keys for workload encryption, converted from the ed25519 ones. */
int key_x25519_pk(const uint8_t ed_pk[32], uint8_t out[32]);
int key_x25519_sk(const struct zkey *k, uint8_t out[32]); /* wipe out after use */

/* SS58 with a one-byte prefix (< 64, 42 = generic Substrate). out >= 64 bytes. */
int ss58_encode(const uint8_t pk[32], uint8_t prefix, char *out, size_t outsz);
int ss58_decode(const char *s, uint8_t pk[32], uint8_t *prefix);
/* An account given as SS58 or 32-byte 0x-hex. */
int key_parse_account(const char *s, uint8_t pk[32]);

/*
 * Prints what identifies an account, one "name: value" line per field
 * (account_id, public_key, ss58_address, x25519_public_key, and secret_seed
 * when seed is not NULL), or one JSON object with the same names when json is
 * set. Used by `zos-agent identity` and `zos-cli key`. Returns 0 or -EIO.
 */
int key_print_info(const uint8_t pk[32], const uint8_t *seed, int json, FILE *out);

#endif
