/*
 * Account keys (ed25519 and sr25519), secret URIs, dev accounts, key files,
 * SS58, x25519 conversion.
 *
 * A struct zkey holds secret material: wipe it with key_wipe() when done.
 */
#ifndef ZOS_COMMON_KEY_H
#define ZOS_COMMON_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Signature schemes; the zero value is ed25519, the project's original one. */
enum key_scheme { KEY_ED25519 = 0, KEY_SR25519 = 1, KEY_SCHEME_UNKNOWN = -1 };

struct zkey {
	uint8_t seed[32]; /* the (mini-)secret seed, meaningful when has_seed */
	uint8_t pk[32];   /* the public key, which is the account's AccountId32 */
	uint8_t sk[64];   /* ed25519: libsodium's seed ++ pk; sr25519: scalar ++ nonce */
	int scheme;       /* KEY_ED25519 or KEY_SR25519 */
	int has_seed;     /* 0 after a soft sr25519 junction (no seed exists) */
};

/* "ed25519" / "sr25519"; NULL for an unknown value. */
const char *key_scheme_name(int scheme);
/* Parses a scheme name; -EINVAL for anything else. */
int key_scheme_parse(const char *s, int *scheme);

/* An ed25519 key from its seed. */
int key_from_seed(const uint8_t seed[32], struct zkey *k);
/* A key of either scheme from its 32-byte (mini-)secret seed. */
int key_from_seed_scheme(int scheme, const uint8_t seed[32], struct zkey *k);

/*
 * A key from a secret URI as Substrate writes them:
 *   PHRASE[//hard|/soft ...][///password]   BIP-0039 phrase (Substrate's
 *                                           entropy-based mini-secret)
 *   0xSEED[//hard|/soft ...]                32-byte hex seed
 *   //hard|/soft ...[///password]           the public dev phrase, e.g. //Alice
 * A junction that is a decimal u64 is encoded as one, other junctions as a
 * SCALE string; soft junctions exist only for sr25519 (ed25519: -ENOTSUP).
 * password (NULL = none) overrides the one in the URI; it is ignored for a
 * hex seed, as in Substrate. ZE_MALFORMED for a bad phrase, path or seed.
 */
int key_from_suri(const char *suri, int scheme, const char *password, struct zkey *k);
/* A public URI: an account (SS58 or 0x-hex) followed by soft junctions,
 * e.g. 5Grw.../1/soft (sr25519 only; a hard junction or ed25519 with a path
 * is -ENOTSUP, since those need the secret). */
int key_public_from_uri(const char *uri, int scheme, uint8_t pk[32]);
/* Words of a new phrase: 12, 15, 18, 21 or 24. phrase gets at least
 * BIP39_PHRASE_MAX bytes and is wiped by the caller. */
int key_generate_phrase(int words, char *phrase, size_t phrase_sz);
int key_generate(struct zkey *k);
/* Substrate's ed25519 dev accounts: alice, bob, charlie, dave, eve, ferdie
 * (case-insensitive, "//Alice" accepted), hard-derived from the dev phrase. */
int key_dev(const char *name, struct zkey *k);
/* The same dev account for either scheme (sr25519: Substrate's usual ones). */
int key_dev_scheme(const char *name, int scheme, struct zkey *k);
/* Seed file: 64 hex digits (optional 0x, trailing newline). Refuses a file
 * readable by group or others (-EPERM) so a leaked seed is not used. */
int key_seed_file_load(const char *path, struct zkey *k);
/* Key file: a hex seed or a secret URI (usually a phrase), read as
 * key_from_suri() reads it, with the same permission check. */
int key_file_load(const char *path, int scheme, const char *password, struct zkey *k);
/* Writes text and a newline to a new file with mode 0600 (O_EXCL, fsync). */
int key_secret_file_write(const char *path, const char *text);
/* Creates a new seed file with mode 0600 (O_EXCL); -EEXIST if present. */
int key_seed_file_create(const char *path, struct zkey *k);
/* Loads path, creating it first when missing; *created set to 1 if so. */
int key_load_or_create(const char *path, struct zkey *k, int *created);
void key_wipe(struct zkey *k);

/* Signs with the key's scheme (sr25519: Substrate's "substrate" context). */
int key_sign(const struct zkey *k, const uint8_t *msg, size_t n, uint8_t sig[64]);
/* ed25519: 0 when valid, ZE_CRYPTO otherwise. */
int key_verify(const uint8_t pk[32], const uint8_t *msg, size_t n, const uint8_t sig[64]);
/* Either scheme; -EINVAL for an unknown scheme. */
int key_verify_scheme(int scheme, const uint8_t pk[32], const uint8_t *msg, size_t n,
		      const uint8_t sig[64]);

/*
 * x25519 keys for workload encryption. An ed25519 key converts to x25519;
 * an sr25519 key cannot, so its x25519 secret is derived from the account's
 * secret scalar (a keyed blake2b-256): the phrase alone recovers it, and the
 * twin registers its public half as its `pk`.
 */
/* From an ed25519 public key (account id) only. */
int key_x25519_pk(const uint8_t ed_pk[32], uint8_t out[32]);
/* The public x25519 key of k, for either scheme. */
int key_x25519_pk_of(const struct zkey *k, uint8_t out[32]);
/* Either scheme; the caller wipes out after use. */
int key_x25519_sk(const struct zkey *k, uint8_t out[32]);

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
/* The same for either scheme, with a "scheme" field first; sr25519 has no
 * x25519_public_key. phrase (may be NULL) is printed as secret_phrase.
 * KEY_SCHEME_UNKNOWN (an account given by address) prints no scheme, and
 * the x25519 form only when the key converts as an ed25519 one would. */
int key_print_info_scheme(int scheme, const uint8_t pk[32], const uint8_t *seed, const char *phrase,
			  int json, FILE *out);

#endif
