/* Hex encoding and strict hex decoding (hex.h). */
#include "common/hex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

static const char digits[] = "0123456789abcdef";

int hex_encode(const uint8_t *p, size_t n, int prefix, char *out, size_t outsz)
{
	size_t need = (prefix ? 2 : 0) + 2 * n + 1;
	if (n > (SIZE_MAX - 3) / 2 || outsz < need)
		return -ENOSPC;
	char *o = out;
	if (prefix) {
		*o++ = '0';
		*o++ = 'x';
	}
	for (size_t i = 0; i < n; i++) {
		*o++ = digits[p[i] >> 4];
		*o++ = digits[p[i] & 15];
	}
	*o = 0;
	return 0;
}

char *hex_encode_alloc(const uint8_t *p, size_t n, int prefix)
{
	if (n > (SIZE_MAX - 3) / 2)
		return NULL;
	size_t sz = 2 * n + 3;
	char *s = malloc(sz);
	if (s && hex_encode(p, n, prefix, s, sz) != 0) {
		free(s);
		s = NULL;
	}
	return s;
}

/* One more than each byte's value as a hex digit, 0 for a byte that is
 * none: one load per digit (the follower decodes every block's events and
 * extrinsics, tens of KB of hex). */
static const uint8_t digit1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11, ['B'] = 12,
    ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

int hex_digit(char c)
{
	return digit1[(unsigned char)c] - 1;
}

static int decode_into(const char *s, size_t slen, uint8_t *out)
{
	for (size_t i = 0; i < slen / 2; i++) {
		uint8_t hi = digit1[(unsigned char)s[2 * i]], lo = digit1[(unsigned char)s[2 * i + 1]];
		if (!hi || !lo)
			return ZE_MALFORMED;
		out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
	}
	return 0;
}

static const char *skip_prefix(const char *s, size_t *len)
{
	if (*len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		*len -= 2;
		return s + 2;
	}
	return s;
}

int hex_decode_fixed(const char *s, uint8_t *out, size_t n)
{
	return s ? hex_decode_fixed_span(s, strlen(s), out, n) : ZE_MALFORMED;
}

int hex_decode_fixed_span(const char *s, size_t slen, uint8_t *out, size_t n)
{
	s = skip_prefix(s, &slen);
	if (slen != 2 * n)
		return ZE_MALFORMED;
	return decode_into(s, slen, out);
}

int hex_decode_alloc(const char *s, size_t max, uint8_t **out, size_t *outlen)
{
	if (!s)
		return ZE_MALFORMED;
	return hex_decode_span(s, strlen(s), max, out, outlen);
}

int hex_decode_span(const char *s, size_t slen, size_t max, uint8_t **out, size_t *outlen)
{
	s = skip_prefix(s, &slen);
	if (slen % 2)
		return ZE_MALFORMED;
	if (slen / 2 > max)
		return ZE_TOOBIG;
	uint8_t *p = malloc(slen / 2 ? slen / 2 : 1);
	if (!p)
		return -ENOMEM;
	int rc = decode_into(s, slen, p);
	if (rc) {
		free(p);
		return rc;
	}
	*out = p;
	*outlen = slen / 2;
	return 0;
}
