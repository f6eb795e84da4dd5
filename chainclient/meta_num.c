/* Integers of any SCALE width to and from JSON, and type-shape helpers. */
#include "chainclient/meta_int.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "common/jnum.h"
#include "common/zerr.h"


int meta_int_width(enum meta_prim p, size_t *width, int *is_signed)
{
	static const size_t widths[] = {
		[META_U8] = 1, [META_U16] = 2, [META_U32] = 4, [META_U64] = 8, [META_U128] = 16,
		[META_U256] = 32, [META_I8] = 1, [META_I16] = 2, [META_I32] = 4, [META_I64] = 8,
		[META_I128] = 16, [META_I256] = 32,
	};
	if (p < META_U8 || p > META_I256)
		return -EINVAL;
	*width = widths[p];
	*is_signed = p >= META_I8;
	return 0;
}

static void negate(uint8_t *le, size_t w)
{
	unsigned carry = 1;
	for (size_t i = 0; i < w; i++) {
		unsigned x = (unsigned)(uint8_t)~le[i] + carry;
		le[i] = (uint8_t)x;
		carry = x >> 8;
	}
}

/* Divides the magnitude in place by 10, returning the remainder. */
static unsigned div10(uint8_t *le, size_t w)
{
	unsigned rem = 0;
	for (size_t i = w; i > 0; i--) {
		unsigned cur = rem << 8 | le[i - 1];
		le[i - 1] = (uint8_t)(cur / 10);
		rem = cur % 10;
	}
	return rem;
}

static int is_zero(const uint8_t *le, size_t w)
{
	for (size_t i = 0; i < w; i++)
		if (le[i])
			return 0;
	return 1;
}

int meta_int_to_json(const uint8_t *le, size_t width, int is_signed, cJSON **out)
{
	uint8_t mag[META_INT_MAX_WIDTH];
	char digits[META_INT_MAX_WIDTH * 3 + 2], text[sizeof digits + 1];
	size_t nd = 0, w = width;
	int neg = 0;

	if (w == 0 || w > META_INT_MAX_WIDTH)
		return -EINVAL;
	memcpy(mag, le, w);
	if (is_signed && (mag[w - 1] & 0x80)) {
		neg = 1;
		negate(mag, w);
	}
	/* Small magnitudes become JSON numbers, exactly representable. */
	int small = 1;
	double dv = 0;
	for (size_t i = w; i > 0; i--) {
		dv = dv * 256 + mag[i - 1];
		if (dv > JNUM_EXACT_MAX)
			small = 0;
	}
	if (small) {
		*out = cJSON_CreateNumber(neg ? -dv : dv);
		return *out ? 0 : -ENOMEM;
	}
	do
		digits[nd++] = (char)('0' + div10(mag, w));
	while (!is_zero(mag, w));
	size_t k = 0;
	if (neg)
		text[k++] = '-';
	while (nd)
		text[k++] = digits[--nd];
	text[k] = 0;
	*out = cJSON_CreateString(text);
	return *out ? 0 : -ENOMEM;
}

/* mag = mag * 10 + d within w bytes; -EINVAL on overflow. */
static int mul10_add(uint8_t *mag, size_t w, unsigned d)
{
	unsigned carry = d;
	for (size_t i = 0; i < w; i++) {
		unsigned x = mag[i] * 10u + carry;
		mag[i] = (uint8_t)x;
		carry = x >> 8;
	}
	return carry ? -EINVAL : 0;
}

static int parse_decimal(const char *s, uint8_t *mag, size_t w, int *neg)
{
	*neg = 0;
	if (*s == '-') {
		*neg = 1;
		s++;
	}
	if (!*s)
		return -EINVAL;
	memset(mag, 0, w);
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (mul10_add(mag, w, (unsigned)(*s - '0')))
			return -EINVAL;
	}
	return 0;
}

int meta_int_from_json(const cJSON *v, size_t width, int is_signed, uint8_t *le)
{
	uint8_t mag[META_INT_MAX_WIDTH + 1];
	size_t w = width;
	int neg, rc;

	if (w == 0 || w > META_INT_MAX_WIDTH || !v)
		return -EINVAL;
	/* One spare byte lets the range check below see a carry. */
	if (cJSON_IsNumber(v)) {
		int64_t i;
		if (jnum_i64(v, &i) < 0)
			return -EINVAL;
		neg = i < 0;
		uint64_t u = neg ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
		memset(mag, 0, sizeof mag);
		for (size_t i = 0; i < 8 && i <= w; i++)
			mag[i] = (uint8_t)(u >> (8 * i));
		if (w < 8 && (u >> (8 * w)) != 0)
			return -EINVAL;
	} else if (cJSON_IsString(v) && v->valuestring) {
		if ((rc = parse_decimal(v->valuestring, mag, w + 1, &neg)))
			return rc;
	} else {
		return -EINVAL;
	}
	if (is_zero(mag, w + 1))
		neg = 0;
	if (neg && !is_signed)
		return -EINVAL;
	if (mag[w] != 0)
		return -EINVAL;
	if (is_signed) {
		/* Magnitude limit: 2^(8w-1) for negatives, 2^(8w-1)-1 otherwise. */
		uint8_t top = mag[w - 1];
		if (top > 0x80 || (top == 0x80 && (!neg || !is_zero(mag, w - 1))))
			return -EINVAL;
	}
	if (neg)
		negate(mag, w);
	memcpy(le, mag, w);
	return 0;
}

int meta_json_u64(const cJSON *v, uint64_t *out)
{
	uint8_t le[8];
	int rc = meta_int_from_json(v, 8, 0, le);
	if (rc)
		return rc;
	uint64_t x = 0;
	for (size_t i = 8; i > 0; i--)
		x = x << 8 | le[i - 1];
	*out = x;
	return 0;
}

int meta_json_u128(const cJSON *v, scale_u128 *out)
{
	uint8_t le[16];
	int rc = meta_int_from_json(v, 16, 0, le);
	if (rc)
		return rc;
	scale_u128 x = 0;
	for (size_t i = 16; i > 0; i--)
		x = x << 8 | le[i - 1];
	*out = x;
	return 0;
}

int meta_is_u8(const struct meta *m, uint32_t type)
{
	const struct meta_type *t = meta_type(m, type);
	return t && t->kind == META_PRIMITIVE && t->prim == META_U8;
}

int meta_is_option(const struct meta_type *t)
{
	return t->kind == META_VARIANT && strcmp(meta_type_name(t), "Option") == 0 &&
	       t->nvariants == 2 && meta_variant_by_index(t, 0) &&
	       meta_variant_by_index(t, 0)->nfields == 0 && meta_variant_by_index(t, 1) &&
	       meta_variant_by_index(t, 1)->nfields == 1;
}

int meta_compact_width(const struct meta *m, uint32_t type, size_t *width)
{
	/* A bounded walk: composites could refer to themselves. */
	for (int hops = 0; hops < META_MAX_DEPTH; hops++) {
		const struct meta_type *t = meta_type(m, type);
		int is_signed;
		if (!t)
			return -EINVAL;
		if (t->kind == META_COMPOSITE && t->nfields == 1) {
			type = t->fields[0].type;
			continue;
		}
		if (t->kind != META_PRIMITIVE || meta_int_width(t->prim, width, &is_signed) ||
		    is_signed || *width > 16)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

int meta_bit_layout(const struct meta *m, const struct meta_type *t, size_t *store, int *msb)
{
	const struct meta_type *s = meta_type(m, t->bit_store);
	const struct meta_type *o = meta_type(m, t->bit_order);
	int is_signed;
	if (!s || !o || s->kind != META_PRIMITIVE || meta_int_width(s->prim, store, &is_signed) ||
	    is_signed || *store > 8)
		return -EINVAL;
	const char *name = meta_type_name(o);
	if (strcmp(name, "Msb0") == 0)
		*msb = 1;
	else if (strcmp(name, "Lsb0") == 0)
		*msb = 0;
	else
		return -EINVAL;
	return 0;
}
