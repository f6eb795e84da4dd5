/*
 * BIP-0039 phrases: words to entropy with the checksum check, entropy to
 * words, and Substrate's entropy-based mini-secret (PBKDF2 from OpenSSL).
 */
#include "common/bip39.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

#include "common/zerr.h"

/* Every English word has 3 to 8 letters. */
#define WORD_MAX 8

/* Index of the word in w (length n, padded with zeros to WORD_MAX) or -1.
 * Compares against every word of the list without branching on the secret
 * word, so the time does not depend on which word it is. */
static int word_index(const uint8_t w[WORD_MAX])
{
	uint32_t found = 0, idx = 0;
	for (uint32_t i = 0; i < BIP39_WORDS; i++) {
		uint8_t cand[WORD_MAX] = {0};
		const char *s = bip39_english[i];
		for (size_t j = 0; j < WORD_MAX && s[j]; j++)
			cand[j] = (uint8_t)s[j];
		uint32_t diff = 0;
		for (size_t j = 0; j < WORD_MAX; j++)
			diff |= (uint32_t)(cand[j] ^ w[j]);
		/* eq is all ones when diff == 0, else zero. */
		uint32_t eq = ((diff | (0u - diff)) >> 31) - 1u;
		idx |= eq & i;
		found |= eq;
	}
	return found ? (int)idx : -1;
}

int bip39_entropy(const char *phrase, uint8_t ent[32], size_t *n)
{
	uint16_t idx[24];
	size_t nw = 0;
	int rc = ZE_MALFORMED;
	const char *p = phrase;

	for (;;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		uint8_t w[WORD_MAX] = {0};
		size_t len = 0;
		while (*p && !isspace((unsigned char)*p)) {
			if (len == WORD_MAX || nw == 24)
				goto out;
			w[len++] = (uint8_t)*p++;
		}
		int i = word_index(w);
		sodium_memzero(w, sizeof w);
		if (i < 0)
			goto out;
		idx[nw++] = (uint16_t)i;
	}
	if (nw < 12 || nw % 3 != 0)
		goto out;
	/* 11 bits a word: ENT bits of entropy then ENT/32 bits of checksum. */
	size_t bits = nw * 11, cs = bits / 33, entb = bits - cs;
	uint8_t raw[33] = {0};
	/* Shifts and masks only: no branch on the secret bits. */
	for (size_t b = 0; b < bits; b++) {
		unsigned bit = (idx[b / 11] >> (10 - b % 11)) & 1u;
		raw[b / 8] |= (uint8_t)(bit << (7 - b % 8));
	}
	uint8_t h[32];
	crypto_hash_sha256(h, raw, entb / 8);
	/* The checksum is the first cs bits of SHA-256(entropy). */
	uint8_t want = (uint8_t)(h[0] & (0xff << (8 - cs)));
	uint8_t got = (uint8_t)(raw[entb / 8] & (0xff << (8 - cs)));
	if (want == got) {
		memcpy(ent, raw, entb / 8);
		*n = entb / 8;
		rc = 0;
	}
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(h, sizeof h);
out:
	sodium_memzero(idx, sizeof idx);
	return rc;
}

int bip39_phrase(const uint8_t *ent, size_t n, char *out, size_t outsz)
{
	uint8_t raw[33] = {0}, h[32];
	if (n < 16 || n > 32 || n % 4 != 0 || outsz < BIP39_PHRASE_MAX)
		return -EINVAL;
	memcpy(raw, ent, n);
	crypto_hash_sha256(h, ent, n);
	raw[n] = h[0];
	size_t nw = (n * 8 + n / 4) / 11, o = 0;
	for (size_t w = 0; w < nw; w++) {
		unsigned v = 0;
		for (size_t b = w * 11; b < w * 11 + 11; b++)
			v = (v << 1) | ((raw[b / 8] >> (7 - b % 8)) & 1u);
		const char *s = bip39_english[v];
		size_t len = strlen(s);
		if (w)
			out[o++] = ' ';
		memcpy(out + o, s, len);
		o += len;
	}
	out[o] = 0;
	sodium_memzero(raw, sizeof raw);
	sodium_memzero(h, sizeof h);
	return 0;
}

int bip39_mini_secret(const char *phrase, const char *password, uint8_t out[32])
{
	uint8_t ent[32], seed[64];
	size_t n;
	char salt[8 + 1024];
	size_t plen = password ? strlen(password) : 0;
	if (plen > sizeof salt - 8)
		return ZE_TOOBIG;
	int rc = bip39_entropy(phrase, ent, &n);
	if (rc)
		return rc;
	memcpy(salt, "mnemonic", 8);
	if (plen)
		memcpy(salt + 8, password, plen);
	if (PKCS5_PBKDF2_HMAC((const char *)ent, (int)n, (const unsigned char *)salt,
			      (int)(8 + plen), 2048, EVP_sha512(), sizeof seed, seed) != 1)
		rc = ZE_CRYPTO;
	else
		memcpy(out, seed, 32);
	sodium_memzero(ent, sizeof ent);
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(salt, sizeof salt);
	return rc;
}
