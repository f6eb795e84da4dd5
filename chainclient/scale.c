/* SCALE codec primitives: a bounded decoding cursor and encoders into a capped buffer (scale.h). */
#include "chainclient/scale.h"

#include <string.h>

#include "common/zerr.h"

void scale_rd_init(struct scale_rd *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->off = 0;
}

/* Little-endian unsigned integer of n <= 16 bytes. */
static int get_le(struct scale_rd *r, size_t n, scale_u128 *v)
{
	if (scale_rd_left(r) < n)
		return ZE_MALFORMED;
	scale_u128 x = 0;
	for (size_t i = n; i > 0; i--)
		x = (x << 8) | r->p[r->off + i - 1];
	r->off += n;
	*v = x;
	return 0;
}

int scale_get_u8(struct scale_rd *r, uint8_t *v)
{
	if (scale_rd_left(r) < 1)
		return ZE_MALFORMED;
	*v = r->p[r->off++];
	return 0;
}

int scale_get_u16(struct scale_rd *r, uint16_t *v)
{
	scale_u128 x;
	int rc = get_le(r, 2, &x);
	if (rc == 0)
		*v = (uint16_t)x;
	return rc;
}

int scale_get_u32(struct scale_rd *r, uint32_t *v)
{
	scale_u128 x;
	int rc = get_le(r, 4, &x);
	if (rc == 0)
		*v = (uint32_t)x;
	return rc;
}

int scale_get_u64(struct scale_rd *r, uint64_t *v)
{
	scale_u128 x;
	int rc = get_le(r, 8, &x);
	if (rc == 0)
		*v = (uint64_t)x;
	return rc;
}

int scale_get_u128(struct scale_rd *r, scale_u128 *v)
{
	return get_le(r, 16, v);
}

int scale_get_bool(struct scale_rd *r, int *v)
{
	uint8_t b;
	int rc = scale_get_u8(r, &b);
	if (rc)
		return rc;
	if (b > 1)
		return ZE_MALFORMED;
	*v = b;
	return 0;
}

/*
 * Decodes a compact integer of at most maxbytes bytes. The cursor only moves
 * on success. Minimality: each mode must carry a value the smaller modes could
 * not, and in big mode the most significant byte must be non-zero.
 */
static int get_compact(struct scale_rd *r, size_t maxbytes, scale_u128 *v)
{
	struct scale_rd t = *r;
	uint8_t b0;
	scale_u128 x;
	int rc = scale_get_u8(&t, &b0);
	if (rc)
		return rc;
	switch (b0 & 3) {
	case 0:
		x = b0 >> 2;
		break;
	case 1:
		t.off--;
		if ((rc = get_le(&t, 2, &x)))
			return rc;
		x >>= 2;
		if (x < 64)
			return ZE_MALFORMED;
		break;
	case 2:
		t.off--;
		if ((rc = get_le(&t, 4, &x)))
			return rc;
		x >>= 2;
		if (x < (1u << 14))
			return ZE_MALFORMED;
		break;
	default: {
		size_t n = (size_t)(b0 >> 2) + 4;
		if (scale_rd_left(&t) < n)
			return ZE_MALFORMED;
		if (t.p[t.off + n - 1] == 0)
			return ZE_MALFORMED;
		if (n > maxbytes)
			return ZE_TOOBIG;
		if ((rc = get_le(&t, n, &x)))
			return rc;
		if (n == 4 && x < ((scale_u128)1 << 30))
			return ZE_MALFORMED;
		break;
	}
	}
	*r = t;
	*v = x;
	return 0;
}

int scale_get_compact(struct scale_rd *r, uint64_t *v)
{
	scale_u128 x;
	int rc = get_compact(r, 8, &x);
	if (rc == 0)
		*v = (uint64_t)x;
	return rc;
}

int scale_get_compact128(struct scale_rd *r, scale_u128 *v)
{
	return get_compact(r, 16, v);
}

int scale_get_bytes(struct scale_rd *r, uint8_t *out, size_t n)
{
	if (scale_rd_left(r) < n)
		return ZE_MALFORMED;
	if (n)
		memcpy(out, r->p + r->off, n);
	r->off += n;
	return 0;
}

int scale_get_view(struct scale_rd *r, size_t n, const uint8_t **p)
{
	if (scale_rd_left(r) < n)
		return ZE_MALFORMED;
	*p = r->p + r->off;
	r->off += n;
	return 0;
}

int scale_get_len(struct scale_rd *r, size_t max, size_t min_item_size, size_t *len)
{
	struct scale_rd t = *r;
	uint64_t n;
	int rc = scale_get_compact(&t, &n);
	if (rc)
		return rc;
	if (n > max)
		return ZE_TOOBIG;
	if (min_item_size && n > scale_rd_left(&t) / min_item_size)
		return ZE_MALFORMED;
	*r = t;
	*len = (size_t)n;
	return 0;
}

int scale_get_vec_u8(struct scale_rd *r, size_t max, const uint8_t **p, size_t *n)
{
	struct scale_rd t = *r;
	size_t len;
	int rc = scale_get_len(&t, max, 1, &len);
	if (rc)
		return rc;
	if ((rc = scale_get_view(&t, len, p)))
		return rc;
	*r = t;
	*n = len;
	return 0;
}

int scale_skip(struct scale_rd *r, size_t n)
{
	if (scale_rd_left(r) < n)
		return ZE_MALFORMED;
	r->off += n;
	return 0;
}

static int put_le(struct zbuf *b, scale_u128 v, size_t n)
{
	uint8_t tmp[16];
	for (size_t i = 0; i < n; i++) {
		tmp[i] = (uint8_t)v;
		v >>= 8;
	}
	return zbuf_put(b, tmp, n);
}

int scale_put_u8(struct zbuf *b, uint8_t v)
{
	return zbuf_putc(b, v);
}

int scale_put_u16(struct zbuf *b, uint16_t v)
{
	return put_le(b, v, 2);
}

int scale_put_u32(struct zbuf *b, uint32_t v)
{
	return put_le(b, v, 4);
}

int scale_put_u64(struct zbuf *b, uint64_t v)
{
	return put_le(b, v, 8);
}

int scale_put_u128(struct zbuf *b, scale_u128 v)
{
	return put_le(b, v, 16);
}

int scale_put_bool(struct zbuf *b, int v)
{
	return zbuf_putc(b, v ? 1 : 0);
}

int scale_put_compact128(struct zbuf *b, scale_u128 v)
{
	if (v < 64)
		return zbuf_putc(b, (uint8_t)(v << 2));
	if (v < (1u << 14))
		return put_le(b, v << 2 | 1, 2);
	if (v < ((scale_u128)1 << 30))
		return put_le(b, v << 2 | 2, 4);
	size_t n = 4;
	while (n < 16 && (v >> (8 * n)) != 0)
		n++;
	uint8_t tmp[17];
	tmp[0] = (uint8_t)(((n - 4) << 2) | 3);
	for (size_t i = 0; i < n; i++) {
		tmp[1 + i] = (uint8_t)v;
		v >>= 8;
	}
	return zbuf_put(b, tmp, n + 1);
}

int scale_put_compact(struct zbuf *b, uint64_t v)
{
	return scale_put_compact128(b, v);
}

int scale_put_bytes(struct zbuf *b, const uint8_t *p, size_t n)
{
	return zbuf_put(b, p, n);
}

int scale_put_vec_u8(struct zbuf *b, const uint8_t *p, size_t n)
{
	size_t old = b->len;
	int rc = scale_put_compact(b, n);
	if (rc == 0 && (rc = zbuf_put(b, p, n)))
		b->len = old;
	return rc;
}

void scale_u128_str(scale_u128 v, char out[40])
{
	char tmp[40];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = 0;
}

int scale_u128_parse(const char *s, scale_u128 *v)
{
	const scale_u128 max = ~(scale_u128)0;
	scale_u128 x = 0;
	if (!s || !*s)
		return ZE_MALFORMED;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return ZE_MALFORMED;
		unsigned d = (unsigned)(*s - '0');
		if (x > (max - d) / 10)
			return ZE_MALFORMED;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}
