/*
 * BIP-0039 mnemonics (English word list) and Substrate's mini-secret.
 *
 * Substrate does not use BIP-0039's seed: it runs PBKDF2-HMAC-SHA512 over
 * the phrase's ENTROPY (not its text) with the salt "mnemonic" ++ password,
 * 2048 rounds, and keeps the first 32 bytes as the key's mini-secret (both
 * for ed25519 and sr25519).
 */
#ifndef ZOS_COMMON_BIP39_H
#define ZOS_COMMON_BIP39_H

#include <stddef.h>
#include <stdint.h>

#define BIP39_WORDS 2048
/* The longest phrase: 24 words of at most 8 letters, 23 spaces, NUL. */
#define BIP39_PHRASE_MAX (24 * 9)

extern const char *const bip39_english[BIP39_WORDS];

/*
 * Phrase to entropy: 12, 15, 18, 21 or 24 lowercase English words separated
 * by whitespace, with a valid checksum. ent receives 16..32 bytes (*n set).
 * ZE_MALFORMED for an unknown word, a wrong word count or a bad checksum.
 * The word lookup takes the same time for every word (phrases are secrets).
 */
int bip39_entropy(const char *phrase, uint8_t ent[32], size_t *n);
/* Entropy (16, 20, 24, 28 or 32 bytes) to a phrase, words joined by single
 * spaces, into out (outsz >= BIP39_PHRASE_MAX). */
int bip39_phrase(const uint8_t *ent, size_t n, char *out, size_t outsz);
/* Substrate's mini-secret of phrase with password (NULL = none). */
int bip39_mini_secret(const char *phrase, const char *password, uint8_t out[32]);

#endif
