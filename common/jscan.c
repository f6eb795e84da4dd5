/* JSON scanning without a tree (jscan.h). */
#include "common/jscan.h"

#include <string.h>

#include "common/hex.h"
#include "common/jnum.h"
#include "common/num.h"
#include "common/zerr.h"

int jscan_peek(const char *p, size_t n, size_t *pos)
{
	size_t i = *pos;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	*pos = i;
	return i < n ? (unsigned char)p[i] : -1;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The value of the \\u escape (four hex digits) at i, or -1. */
static long u_escape(const char *p, size_t n, size_t i)
{
	if (n - i < 6 || p[i] != '\\' || p[i + 1] != 'u')
		return -1;
	long v = 0;
	for (size_t k = 2; k < 6; k++) {
		int d = hex_digit(p[i + k]);
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* The string at *pos (its opening quote). The closing quote is found with
 * memchr: the values this scanner is for are long hex strings without
 * escapes. Raw control characters are let through, as cJSON does. */
static int skip_string(const char *p, size_t n, size_t *pos)
{
	size_t i = *pos + 1;
	for (;;) {
		const char *q = i < n ? memchr(p + i, '"', n - i) : NULL;
		if (!q)
			return ZE_MALFORMED;
		size_t end = (size_t)(q - p);
		const char *b = memchr(p + i, '\\', end - i);
		if (!b) {
			*pos = end + 1;
			return 0;
		}
		/* An escape before that quote (maybe of that quote): check it and
		 * look again after it. */
		i = (size_t)(b - p);
		if (i + 1 >= n)
			return ZE_MALFORMED;
		char e = p[i + 1];
		if (e == 'u') {
			/* As cJSON: a high surrogate only with a low one after
			 * it, never a low one alone. */
			long u = u_escape(p, n, i);
			if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
				return ZE_MALFORMED;
			i += 6;
			if (u >= 0xD800 && u <= 0xDBFF) {
				long lo = u_escape(p, n, i);
				if (lo < 0xDC00 || lo > 0xDFFF)
					return ZE_MALFORMED;
				i += 6;
			}
		} else if (e && strchr("\"\\/bfnrt", e)) {
			i += 2;
		} else {
			return ZE_MALFORMED;
		}
	}
}

static size_t digits(const char *p, size_t n, size_t i)
{
	while (i < n && is_digit(p[i]))
		i++;
	return i;
}

static int skip_number(const char *p, size_t n, size_t *pos)
{
	size_t i = *pos, j;
	if (i < n && p[i] == '-')
		i++;
	if (i < n && p[i] == '0')
		i++;
	else if ((j = digits(p, n, i)) > i)
		i = j;
	else
		return ZE_MALFORMED;
	if (i < n && p[i] == '.') {
		if ((j = digits(p, n, i + 1)) == i + 1)
			return ZE_MALFORMED;
		i = j;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if ((j = digits(p, n, i)) == i)
			return ZE_MALFORMED;
		i = j;
	}
	*pos = i;
	return 0;
}

static int skip_word(const char *p, size_t n, size_t *pos, const char *w)
{
	size_t len = strlen(w);
	if (n - *pos < len || memcmp(p + *pos, w, len) != 0)
		return ZE_MALFORMED;
	*pos += len;
	return 0;
}

static int skip_value(const char *p, size_t n, size_t *pos, int depth);

static int walk_object(const char *p, size_t n, size_t pos, int depth, const char *const *keys,
                       size_t nkeys, size_t (*spans)[2], size_t *end);

/* The elements of the array at *pos ('['). */
static int skip_array(const char *p, size_t n, size_t *pos, int depth)
{
	size_t i = *pos + 1;
	if (depth >= JSCAN_DEPTH)
		return ZE_MALFORMED;
	if (jscan_peek(p, n, &i) == ']') {
		*pos = i + 1;
		return 0;
	}
	for (;;) {
		int rc = skip_value(p, n, &i, depth + 1);
		if (rc < 0)
			return rc;
		int c = jscan_peek(p, n, &i);
		if (c == ']') {
			*pos = i + 1;
			return 0;
		}
		if (c != ',')
			return ZE_MALFORMED;
		i++;
	}
}

static int skip_value(const char *p, size_t n, size_t *pos, int depth)
{
	switch (jscan_peek(p, n, pos)) {
	case '"':
		return skip_string(p, n, pos);
	case '{':
		return walk_object(p, n, *pos, depth, NULL, 0, NULL, pos);
	case '[':
		return skip_array(p, n, pos, depth);
	case 't':
		return skip_word(p, n, pos, "true");
	case 'f':
		return skip_word(p, n, pos, "false");
	case 'n':
		return skip_word(p, n, pos, "null");
	case -1:
		return ZE_MALFORMED;
	default:
		return skip_number(p, n, pos);
	}
}

int jscan_skip(const char *p, size_t n, size_t *pos)
{
	return skip_value(p, n, pos, 0);
}

/* The members of the object at pos, nested depth deep; see jscan_object. */
static int walk_object(const char *p, size_t n, size_t pos, int depth, const char *const *keys,
                       size_t nkeys, size_t (*spans)[2], size_t *end)
{
	size_t i = pos;
	if (depth >= JSCAN_DEPTH)
		return ZE_MALFORMED;
	for (size_t k = 0; k < nkeys; k++)
		spans[k][0] = spans[k][1] = 0;
	if (jscan_peek(p, n, &i) != '{')
		return ZE_MALFORMED;
	i++;
	if (jscan_peek(p, n, &i) == '}') {
		*end = i + 1;
		return 0;
	}
	for (;;) {
		if (jscan_peek(p, n, &i) != '"')
			return ZE_MALFORMED;
		size_t ks = i + 1;
		if (skip_string(p, n, &i) < 0)
			return ZE_MALFORMED;
		size_t klen = i - 1 - ks;
		if (jscan_peek(p, n, &i) != ':')
			return ZE_MALFORMED;
		i++;
		jscan_peek(p, n, &i);
		size_t start = i;
		if (skip_value(p, n, &i, depth + 1) < 0)
			return ZE_MALFORMED;
		size_t vend = i;
		/* Only a value that ends where a member may end: "01" is not 0. */
		int c = jscan_peek(p, n, &i);
		if (c != '}' && c != ',')
			return ZE_MALFORMED;
		/* The key's bytes between its quotes, as written; the first of
		 * each name counts. */
		for (size_t k = 0; k < nkeys; k++)
			if (!spans[k][1] && strlen(keys[k]) == klen &&
			    !memcmp(p + ks, keys[k], klen)) {
				spans[k][0] = start;
				spans[k][1] = vend;
			}
		i++;
		if (c == '}') {
			*end = i;
			return 0;
		}
	}
}

int jscan_object(const char *p, size_t n, size_t pos, const char *const *keys, size_t nkeys,
                 size_t (*spans)[2], size_t *end)
{
	return walk_object(p, n, pos, 0, keys, nkeys, spans, end);
}

int jscan_member(const char *p, size_t n, size_t pos, const char *key, size_t *vs, size_t *ve)
{
	size_t span[1][2], end;
	int rc = jscan_object(p, n, pos, &key, 1, span, &end);
	if (rc < 0)
		return rc;
	if (!span[0][1])
		return ZE_ABSENT;
	*vs = span[0][0];
	*ve = span[0][1];
	return 0;
}

int jscan_u64(const char *p, size_t vs, size_t ve, uint64_t *out)
{
	/* JSON writes no leading zero; num_u64_n takes digits only. */
	if (ve <= vs || (p[vs] == '0' && ve - vs > 1) ||
	    num_u64_n(p + vs, ve - vs, JNUM_MAX, out) < 0)
		return ZE_MALFORMED;
	return 0;
}
