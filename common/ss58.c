/*
 * SS58 addresses (one-byte prefix form) over base58, and account parsing.
 *
 * SS58 = base58(prefix ++ pk ++ blake2b-512("SS58PRE" ++ prefix ++ pk)[0..2]).
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/hex.h"
#include "common/key.h"
#include "common/zerr.h"

static const char b58_alphabet[] =
	"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/* One-byte prefix + 32-byte key + 2-byte checksum. */
#define SS58_RAW_LEN 35
/* ceil(35 * log(256) / log(58)) = 48 digits at most. */
#define SS58_MAX_DIGITS 48

static int ss58_checksum(const uint8_t *body, size_t n, uint8_t out[2])
{
	crypto_generichash_state st;
	uint8_t h[64];
	if (crypto_generichash_init(&st, NULL, 0, sizeof h) != 0 ||
	    crypto_generichash_update(&st, (const uint8_t *)"SS58PRE", 7) != 0 ||
	    crypto_generichash_update(&st, body, n) != 0 ||
	    crypto_generichash_final(&st, h, sizeof h) != 0)
		return ZE_CRYPTO;
	out[0] = h[0];
	out[1] = h[1];
	return 0;
}

/* Base58 of a short byte string; the caller bounds n so digits fit. */
static int b58_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	uint8_t digits[SS58_MAX_DIGITS];
	size_t ndig = 0, zeros = 0;
	while (zeros < n && in[zeros] == 0)
		zeros++;
	for (size_t i = zeros; i < n; i++) {
		unsigned carry = in[i];
		for (size_t j = 0; j < ndig; j++) {
			carry += (unsigned)digits[j] << 8;
			digits[j] = (uint8_t)(carry % 58);
			carry /= 58;
		}
		while (carry) {
			if (ndig == sizeof digits)
				return -ENOSPC;
			digits[ndig++] = (uint8_t)(carry % 58);
			carry /= 58;
		}
	}
	if (zeros + ndig + 1 > outsz)
		return -ENOSPC;
	size_t o = 0;
	for (size_t i = 0; i < zeros; i++)
		out[o++] = '1';
	while (ndig)
		out[o++] = b58_alphabet[digits[--ndig]];
	out[o] = 0;
	return 0;
}

/* Decodes s into exactly want bytes; anything else is malformed. */
static int b58_decode(const char *s, uint8_t *out, size_t want)
{
	uint8_t bytes[SS58_RAW_LEN + 1];
	size_t nb = 0, zeros = 0, len = strlen(s);
	if (len == 0 || len > SS58_MAX_DIGITS + 2 || want > SS58_RAW_LEN)
		return ZE_MALFORMED;
	while (zeros < len && s[zeros] == '1')
		zeros++;
	for (size_t i = zeros; i < len; i++) {
		const char *p = strchr(b58_alphabet, s[i]);
		if (!p || !*p)
			return ZE_MALFORMED;
		unsigned carry = (unsigned)(p - b58_alphabet);
		for (size_t j = 0; j < nb; j++) {
			carry += (unsigned)bytes[j] * 58;
			bytes[j] = (uint8_t)carry;
			carry >>= 8;
		}
		while (carry) {
			if (nb == sizeof bytes)
				return ZE_MALFORMED;
			bytes[nb++] = (uint8_t)carry;
			carry >>= 8;
		}
	}
	if (zeros + nb != want)
		return ZE_MALFORMED;
	memset(out, 0, zeros);
	for (size_t i = 0; i < nb; i++)
		out[zeros + i] = bytes[nb - 1 - i];
	return 0;
}

int ss58_encode(const uint8_t pk[32], uint8_t prefix, char *out, size_t outsz)
{
	uint8_t raw[SS58_RAW_LEN];
	if (prefix >= 64)
		return -EINVAL;
	raw[0] = prefix;
	memcpy(raw + 1, pk, 32);
	int rc = ss58_checksum(raw, 33, raw + 33);
	if (rc)
		return rc;
	return b58_encode(raw, sizeof raw, out, outsz);
}

int ss58_decode(const char *s, uint8_t pk[32], uint8_t *prefix)
{
	uint8_t raw[SS58_RAW_LEN], sum[2];
	if (!s)
		return ZE_MALFORMED;
	int rc = b58_decode(s, raw, sizeof raw);
	if (rc)
		return rc;
	/* Prefixes 64..127 announce the two-byte form, which is not 35 bytes. */
	if (raw[0] >= 64)
		return ZE_MALFORMED;
	rc = ss58_checksum(raw, 33, sum);
	if (rc)
		return rc;
	if (sodium_memcmp(sum, raw + 33, 2) != 0)
		return ZE_MALFORMED;
	memcpy(pk, raw + 1, 32);
	if (prefix)
		*prefix = raw[0];
	return 0;
}

int key_parse_account(const char *s, uint8_t pk[32])
{
	if (!s)
		return ZE_MALFORMED;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return hex_decode_fixed(s, pk, 32);
	return ss58_decode(s, pk, NULL);
}
