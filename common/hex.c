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

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static const char *skip_prefix(const char *s)
{
	return (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? s + 2 : s;
}

static int decode_into(const char *s, size_t slen, uint8_t *out)
{
	for (size_t i = 0; i < slen / 2; i++) {
		int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return ZE_MALFORMED;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int hex_decode_fixed(const char *s, uint8_t *out, size_t n)
{
	if (!s)
		return ZE_MALFORMED;
	s = skip_prefix(s);
	size_t slen = strlen(s);
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
	if (slen >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		slen -= 2;
	}
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
