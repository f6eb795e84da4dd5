/*
 * Generic SCALE -> JSON decoder driven by the type registry. Recursion is
 * bounded by META_MAX_DEPTH and output size by META_MAX_NODES, so neither
 * self-referencing types nor huge claimed lengths can exhaust the stack or
 * memory; every read goes through the bounded scale_rd cursor.
 */
#include "chainclient/meta_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/zerr.h"

struct jdec {
	const struct meta *m;
	struct scale_rd *r;
	size_t nodes;
};

static int dec_value(struct jdec *d, uint32_t type, int depth, cJSON **out);

/* Counts one output node against the budget. */
static int spend(struct jdec *d)
{
	if (d->nodes >= META_MAX_NODES)
		return ZE_TOOBIG;
	d->nodes++;
	return 0;
}

static int mk(cJSON *j, cJSON **out)
{
	*out = j;
	return j ? 0 : -ENOMEM;
}

/* Attaches item under key; on failure (cJSON copies the key) frees item. */
static int attach(cJSON *obj, const char *key, cJSON *item)
{
	if (cJSON_AddItemToObject(obj, key, item))
		return 0;
	cJSON_Delete(item);
	return -ENOMEM;
}

static int hex_json(const uint8_t *p, size_t n, cJSON **out)
{
	char *s = hex_encode_alloc(p, n, 1);
	if (!s)
		return -ENOMEM;
	int rc = mk(cJSON_CreateString(s), out);
	free(s);
	return rc;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static int utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		size_t k;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int dec_str(struct jdec *d, cJSON **out)
{
	const uint8_t *p;
	size_t n;
	int rc = scale_get_vec_u8(d->r, scale_rd_left(d->r), &p, &n);
	if (rc)
		return rc;
	if (!utf8_valid(p, n))
		return ZE_MALFORMED;
	/* cJSON strings end at NUL, so an embedded NUL cannot be represented. */
	if (memchr(p, 0, n))
		return ZE_UNSUPPORTED;
	char *s = malloc(n + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, p, n);
	s[n] = 0;
	rc = mk(cJSON_CreateString(s), out);
	free(s);
	return rc;
}

static int dec_char(struct jdec *d, cJSON **out)
{
	uint32_t cp;
	char s[5];
	int rc = scale_get_u32(d->r, &cp);
	if (rc)
		return rc;
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0)
		return ZE_MALFORMED;
	if (cp < 0x80) {
		s[0] = (char)cp, s[1] = 0;
	} else if (cp < 0x800) {
		s[0] = (char)(0xc0 | cp >> 6), s[1] = (char)(0x80 | (cp & 0x3f)), s[2] = 0;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | cp >> 12), s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f)), s[3] = 0;
	} else {
		s[0] = (char)(0xf0 | cp >> 18), s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), s[3] = (char)(0x80 | (cp & 0x3f));
		s[4] = 0;
	}
	return mk(cJSON_CreateString(s), out);
}

static int dec_prim(struct jdec *d, enum meta_prim p, cJSON **out)
{
	size_t w;
	int is_signed, rc;
	const uint8_t *le;

	switch (p) {
	case META_BOOL: {
		int b;
		if ((rc = scale_get_bool(d->r, &b)))
			return rc;
		return mk(cJSON_CreateBool(b), out);
	}
	case META_CHAR:
		return dec_char(d, out);
	case META_STR:
		return dec_str(d, out);
	default:
		if (meta_int_width(p, &w, &is_signed))
			return ZE_MALFORMED;
		if ((rc = scale_get_view(d->r, w, &le)))
			return rc;
		return meta_int_to_json(le, w, is_signed, out);
	}
}

static int dec_compact(struct jdec *d, uint32_t inner, cJSON **out)
{
	size_t w;
	scale_u128 v;
	uint8_t le[16];
	int rc;
	if (meta_compact_width(d->m, inner, &w))
		return ZE_UNSUPPORTED;
	if ((rc = scale_get_compact128(d->r, &v)))
		return rc == ZE_TOOBIG ? ZE_MALFORMED : rc;
	if (w < 16 && (v >> (8 * w)) != 0)
		return ZE_MALFORMED;
	for (size_t i = 0; i < 16; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	return meta_int_to_json(le, 16, 0, out);
}

/* count values of one type as a JSON array. */
static int dec_list(struct jdec *d, uint32_t elem, uint64_t count, int depth, cJSON **out)
{
	cJSON *arr = cJSON_CreateArray();
	int rc = 0;
	if (!arr)
		return -ENOMEM;
	for (uint64_t i = 0; i < count; i++) {
		cJSON *item;
		if ((rc = dec_value(d, elem, depth + 1, &item)))
			break;
		cJSON_AddItemToArray(arr, item);
	}
	if (rc) {
		cJSON_Delete(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* Fields of a composite or a variant, shaped as described in meta.h. */
static int dec_fields(struct jdec *d, const struct meta_field *f, size_t n, int depth,
		      cJSON **out)
{
	int named = n > 0, rc = 0;
	for (size_t i = 0; i < n; i++)
		if (!f[i].name)
			named = 0;
	if (n == 0)
		return mk(cJSON_CreateNull(), out);
	if (n == 1 && !named)
		return dec_value(d, f[0].type, depth + 1, out);
	cJSON *c = named ? cJSON_CreateObject() : cJSON_CreateArray();
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		cJSON *item;
		if ((rc = dec_value(d, f[i].type, depth + 1, &item)))
			break;
		if (named)
			rc = attach(c, f[i].name, item);
		else
			cJSON_AddItemToArray(c, item);
	}
	if (rc) {
		cJSON_Delete(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int dec_variant(struct jdec *d, const struct meta_type *t, int depth, cJSON **out)
{
	uint8_t idx;
	int rc = scale_get_u8(d->r, &idx);
	if (rc)
		return rc;
	const struct meta_variant *v = meta_variant_by_index(t, idx);
	if (!v)
		return ZE_MALFORMED;
	if (meta_is_option(t))
		return idx == 0 ? mk(cJSON_CreateNull(), out)
				: dec_value(d, v->fields[0].type, depth + 1, out);
	if (v->nfields == 0)
		return mk(cJSON_CreateString(v->name), out);
	cJSON *payload, *obj = cJSON_CreateObject();
	if (!obj)
		return -ENOMEM;
	if ((rc = dec_fields(d, v->fields, v->nfields, depth, &payload))) {
		cJSON_Delete(obj);
		return rc;
	}
	if ((rc = attach(obj, v->name, payload))) {
		cJSON_Delete(obj);
		return rc;
	}
	*out = obj;
	return 0;
}

static int dec_bits(struct jdec *d, const struct meta_type *t, cJSON **out)
{
	size_t store, nbits;
	int msb, rc;
	if (meta_bit_layout(d->m, t, &store, &msb))
		return ZE_UNSUPPORTED;
	if ((rc = scale_get_len(d->r, META_MAX_NODES, 0, &nbits)))
		return rc;
	size_t bits_per = 8 * store, nstores = (nbits + bits_per - 1) / bits_per;
	const uint8_t *p;
	if (nstores > scale_rd_left(d->r) / store)
		return ZE_MALFORMED;
	if ((rc = scale_get_view(d->r, nstores * store, &p)))
		return rc;
	cJSON *arr = cJSON_CreateArray();
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < nbits; i++) {
		/* Each store is a little-endian integer; bit i counts from its
		 * least (Lsb0) or most (Msb0) significant end. */
		size_t s = i / bits_per, b = i % bits_per;
		size_t pos = msb ? bits_per - 1 - b : b;
		int bit = (p[s * store + pos / 8] >> (pos % 8)) & 1;
		cJSON *item = cJSON_CreateBool(bit);
		if (!item || (rc = spend(d))) {
			cJSON_Delete(item);
			cJSON_Delete(arr);
			return item ? rc : -ENOMEM;
		}
		cJSON_AddItemToArray(arr, item);
	}
	*out = arr;
	return 0;
}

static int dec_value(struct jdec *d, uint32_t type, int depth, cJSON **out)
{
	const struct meta_type *t = meta_type(d->m, type);
	const uint8_t *p;
	size_t n;
	int rc;

	if (!t)
		return ZE_MALFORMED;
	if (depth > META_MAX_DEPTH)
		return ZE_TOOBIG;
	if ((rc = spend(d)))
		return rc;
	switch (t->kind) {
	case META_PRIMITIVE:
		return dec_prim(d, t->prim, out);
	case META_COMPOSITE:
		return dec_fields(d, t->fields, t->nfields, depth, out);
	case META_VARIANT:
		return dec_variant(d, t, depth, out);
	case META_SEQUENCE:
		if (meta_is_u8(d->m, t->elem)) {
			if ((rc = scale_get_vec_u8(d->r, scale_rd_left(d->r), &p, &n)))
				return rc;
			return hex_json(p, n, out);
		}
		if ((rc = scale_get_len(d->r, META_MAX_NODES, 0, &n)))
			return rc;
		return dec_list(d, t->elem, n, depth, out);
	case META_ARRAY:
		if (meta_is_u8(d->m, t->elem)) {
			if ((rc = scale_get_view(d->r, t->len, &p)))
				return rc;
			return hex_json(p, t->len, out);
		}
		return dec_list(d, t->elem, t->len, depth, out);
	case META_TUPLE: {
		if (t->ntuple == 0)
			return mk(cJSON_CreateNull(), out);
		cJSON *arr = cJSON_CreateArray();
		if (!arr)
			return -ENOMEM;
		for (size_t i = 0; i < t->ntuple; i++) {
			cJSON *item;
			if ((rc = dec_value(d, t->tuple[i], depth + 1, &item))) {
				cJSON_Delete(arr);
				return rc;
			}
			cJSON_AddItemToArray(arr, item);
		}
		*out = arr;
		return 0;
	}
	case META_COMPACT:
		return dec_compact(d, t->elem, out);
	case META_BITSEQ:
		return dec_bits(d, t, out);
	}
	return ZE_MALFORMED;
}

int meta_to_json(const struct meta *m, uint32_t type, struct scale_rd *r, cJSON **out)
{
	struct scale_rd t = *r;
	struct jdec d = {.m = m, .r = &t};
	int rc = dec_value(&d, type, 0, out);
	if (rc == 0)
		*r = t;
	return rc;
}

int meta_to_json_buf(const struct meta *m, uint32_t type, const uint8_t *p, size_t n,
		     cJSON **out)
{
	struct scale_rd r;
	cJSON *j;
	scale_rd_init(&r, p, n);
	int rc = meta_to_json(m, type, &r, &j);
	if (rc)
		return rc;
	if (scale_rd_left(&r) != 0) {
		cJSON_Delete(j);
		return ZE_MALFORMED;
	}
	*out = j;
	return 0;
}

int meta_decode_call(const struct meta *m, struct scale_rd *r, cJSON **out)
{
	struct scale_rd t = *r;
	struct jdec d = {.m = m, .r = &t};
	uint8_t pi, ci;
	int rc;
	if ((rc = scale_get_u8(&t, &pi)) || (rc = scale_get_u8(&t, &ci)))
		return rc;
	const struct meta_pallet *p = meta_pallet_by_index(m, pi);
	if (!p || !p->has_calls)
		return ZE_MALFORMED;
	const struct meta_variant *v = meta_variant_by_index(meta_type(m, p->calls_type), ci);
	if (!v)
		return ZE_MALFORMED;
	cJSON *args, *o = cJSON_CreateObject();
	if (!o || !cJSON_AddStringToObject(o, "pallet", p->name) ||
	    !cJSON_AddStringToObject(o, "call", v->name) || !(args = cJSON_AddObjectToObject(o, "args"))) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	for (size_t i = 0; i < v->nfields; i++) {
		cJSON *item;
		if ((rc = dec_value(&d, v->fields[i].type, 1, &item)) ||
		    (rc = attach(args, v->fields[i].name ? v->fields[i].name : "", item))) {
			cJSON_Delete(o);
			return rc;
		}
	}
	*r = t;
	*out = o;
	return 0;
}
