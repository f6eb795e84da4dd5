/*
 * Strict JSON text check for envelopes: the envelope grammar of docs/rmb.md
 * is RFC 8259 JSON with these extra rules, so that one signature cannot
 * stand for several envelopes that decode differently:
 *   - the text is valid UTF-8 (no overlong forms, no surrogates);
 *   - strings hold no \u0000 and no unpaired surrogate escape;
 *   - numbers are plain non-negative integers (no sign, fraction, exponent
 *     or leading zero): every number of an envelope is an integer;
 *   - nothing but JSON whitespace follows the value (no NUL, no garbage).
 * Duplicate member names are checked on the parsed tree (rmb_envelope.c),
 * where escapes are already decoded.
 */
#include "rmb/rmb_envelope.h"

#include "common/hex.h"
#include "common/utf8.h"
#include "common/zerr.h"

#define DEPTH_MAX 32

struct scan {
	const unsigned char *p, *end;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

size_t rmb_utf8_seq(const unsigned char *p, const unsigned char *end)
{
	return utf8_seq(p, end);
}

static int hex4(struct scan *s, unsigned *v)
{
	*v = 0;
	if (s->end - s->p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int d = hex_digit((char)*s->p++);
		if (d < 0)
			return -1;
		*v = *v << 4 | (unsigned)d;
	}
	return 0;
}

static int scan_escape(struct scan *s)
{
	if (s->p >= s->end)
		return -1;
	unsigned char c = *s->p++;
	unsigned u, lo;
	switch (c) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		return 0;
	case 'u':
		if (hex4(s, &u) || u == 0 || (u >= 0xdc00 && u <= 0xdfff))
			return -1;
		if (u < 0xd800 || u > 0xdbff)
			return 0;
		/* A high surrogate must be followed by its low half. */
		if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
			return -1;
		s->p += 2;
		return hex4(s, &lo) || lo < 0xdc00 || lo > 0xdfff ? -1 : 0;
	default:
		return -1;
	}
}

static int scan_string(struct scan *s)
{
	s->p++; /* the opening quote */
	while (s->p < s->end) {
		unsigned char c = *s->p;
		if (c == '"') {
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			s->p++;
			if (scan_escape(s))
				return -1;
			continue;
		}
		size_t n = rmb_utf8_seq(s->p, s->end);
		if (!n)
			return -1;
		s->p += n;
	}
	return -1;
}

static int scan_number(struct scan *s)
{
	const unsigned char *start = s->p;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	if (s->p == start || (*start == '0' && s->p - start > 1))
		return -1;
	/* A fraction, exponent or sign would make a second spelling of an integer. */
	if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E'))
		return -1;
	return 0;
}

static int scan_lit(struct scan *s, const char *lit)
{
	for (; *lit; lit++, s->p++)
		if (s->p >= s->end || *s->p != (unsigned char)*lit)
			return -1;
	return 0;
}

static int scan_value(struct scan *s, int depth);

static int scan_container(struct scan *s, int depth, unsigned char close, int obj)
{
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	for (;;) {
		skip_ws(s);
		if (obj) {
			if (s->p >= s->end || *s->p != '"' || scan_string(s))
				return -1;
			skip_ws(s);
			if (s->p >= s->end || *s->p++ != ':')
				return -1;
		}
		if (scan_value(s, depth + 1))
			return -1;
		skip_ws(s);
		if (s->p >= s->end)
			return -1;
		unsigned char c = *s->p++;
		if (c == close)
			return 0;
		if (c != ',')
			return -1;
	}
}

static int scan_value(struct scan *s, int depth)
{
	if (depth > DEPTH_MAX)
		return -1;
	skip_ws(s);
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '{':
		return scan_container(s, depth, '}', 1);
	case '[':
		return scan_container(s, depth, ']', 0);
	case '"':
		return scan_string(s);
	case 't':
		return scan_lit(s, "true");
	case 'f':
		return scan_lit(s, "false");
	case 'n':
		return scan_lit(s, "null");
	default:
		return scan_number(s);
	}
}

int rmb_json_canonical(const void *buf, size_t len)
{
	struct scan s = {buf, (const unsigned char *)buf + len};
	if (scan_value(&s, 0))
		return ZE_MALFORMED;
	skip_ws(&s);
	return s.p == s.end ? 0 : ZE_MALFORMED;
}
