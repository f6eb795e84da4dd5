/*
 * Generic JSON -> SCALE encoder, the mirror of meta_json.c: it accepts the
 * forms the decoder prints (see meta.h). A value that does not fit its type
 * is -EINVAL; the output buffer is restored on any failure.
 */
#include "chainclient/meta_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/hex.h"
#include "common/key.h"
#include "common/zerr.h"

struct jenc {
	const struct meta *m;
	struct zbuf *out;
	size_t nodes;
};

static int enc_value(struct jenc *e, uint32_t type, const cJSON *v, int depth);

static int enc_int(struct jenc *e, enum meta_prim p, const cJSON *v)
{
	uint8_t le[META_INT_MAX_WIDTH];
	size_t w;
	int is_signed;
	if (meta_int_width(p, &w, &is_signed) || meta_int_from_json(v, w, is_signed, le))
		return -EINVAL;
	return zbuf_put(e->out, le, w);
}

/* Decodes one UTF-8 code point; 0 when s holds exactly one. */
static int one_codepoint(const char *s, uint32_t *cp)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t len = strlen(s), k;
	uint32_t c;
	if (len == 0)
		return -EINVAL;
	if (p[0] < 0x80)
		k = 0, c = p[0];
	else if ((p[0] & 0xe0) == 0xc0)
		k = 1, c = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		k = 2, c = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		k = 3, c = p[0] & 0x07;
	else
		return -EINVAL;
	if (len != k + 1)
		return -EINVAL;
	for (size_t i = 1; i <= k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -EINVAL;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -EINVAL;
	*cp = c;
	return 0;
}

static int enc_prim(struct jenc *e, enum meta_prim p, const cJSON *v)
{
	switch (p) {
	case META_BOOL:
		if (!cJSON_IsBool(v))
			return -EINVAL;
		return scale_put_bool(e->out, cJSON_IsTrue(v));
	case META_CHAR: {
		uint32_t cp;
		if (!cJSON_IsString(v) || one_codepoint(v->valuestring, &cp))
			return -EINVAL;
		return scale_put_u32(e->out, cp);
	}
	case META_STR:
		if (!cJSON_IsString(v))
			return -EINVAL;
		return scale_put_vec_u8(e->out, (const uint8_t *)v->valuestring,
					strlen(v->valuestring));
	default:
		return enc_int(e, p, v);
	}
}

/* Bytes given as "0x.." hex; with want != SIZE_MAX the length must match. */
static int enc_hex(struct jenc *e, const cJSON *v, size_t want, int with_len)
{
	uint8_t *p;
	size_t n;
	if (!cJSON_IsString(v) || strncmp(v->valuestring, "0x", 2) != 0)
		return -EINVAL;
	int rc = hex_decode_alloc(v->valuestring, e->out->max ? e->out->max : ZBUF_DEFAULT_MAX,
				  &p, &n);
	if (rc)
		return rc == ZE_MALFORMED ? -EINVAL : rc;
	if (want != SIZE_MAX && n != want)
		rc = -EINVAL;
	else if (with_len)
		rc = scale_put_vec_u8(e->out, p, n);
	else
		rc = zbuf_put(e->out, p, n);
	free(p);
	return rc;
}

static int enc_list(struct jenc *e, uint32_t elem, const cJSON *v, int depth)
{
	const cJSON *item;
	int rc;
	cJSON_ArrayForEach(item, v)
		if ((rc = enc_value(e, elem, item, depth + 1)))
			return rc;
	return 0;
}

static int enc_fields(struct jenc *e, const struct meta_field *f, size_t n, const cJSON *v,
		      int depth)
{
	int named = n > 0, rc;
	for (size_t i = 0; i < n; i++)
		if (!f[i].name)
			named = 0;
	if (n == 0)
		return cJSON_IsNull(v) || ((cJSON_IsObject(v) || cJSON_IsArray(v)) &&
					   cJSON_GetArraySize(v) == 0) ? 0 : -EINVAL;
	if (n == 1 && !named)
		return enc_value(e, f[0].type, v, depth + 1);
	if (named) {
		if (!cJSON_IsObject(v) || (size_t)cJSON_GetArraySize(v) != n)
			return -EINVAL;
		for (size_t i = 0; i < n; i++) {
			const cJSON *item = cJSON_GetObjectItemCaseSensitive(v, f[i].name);
			if (!item)
				return -EINVAL;
			if ((rc = enc_value(e, f[i].type, item, depth + 1)))
				return rc;
		}
		return 0;
	}
	if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) != n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((rc = enc_value(e, f[i].type, cJSON_GetArrayItem(v, (int)i), depth + 1)))
			return rc;
	return 0;
}

static int enc_variant(struct jenc *e, const struct meta_type *t, const cJSON *v, int depth)
{
	const struct meta_variant *var;
	const cJSON *payload = NULL;
	int rc;

	if (meta_is_option(t)) {
		if (cJSON_IsNull(v))
			return scale_put_u8(e->out, 0);
		var = meta_variant_by_index(t, 1);
		if ((rc = scale_put_u8(e->out, 1)))
			return rc;
		return enc_value(e, var->fields[0].type, v, depth + 1);
	}
	if (cJSON_IsString(v)) {
		var = meta_variant_by_name(t, v->valuestring);
		if (!var || var->nfields != 0)
			return -EINVAL;
	} else if (cJSON_IsObject(v) && cJSON_GetArraySize(v) == 1) {
		var = meta_variant_by_name(t, v->child->string);
		payload = v->child;
		if (!var)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if ((rc = scale_put_u8(e->out, var->index)))
		return rc;
	if (!payload)
		return 0;
	return enc_fields(e, var->fields, var->nfields, payload, depth);
}

static int enc_compact(struct jenc *e, uint32_t inner, const cJSON *v)
{
	size_t w;
	uint8_t le[16];
	scale_u128 x = 0;
	if (meta_compact_width(e->m, inner, &w) || meta_int_from_json(v, w, 0, le))
		return -EINVAL;
	for (size_t i = w; i > 0; i--)
		x = x << 8 | le[i - 1];
	return scale_put_compact128(e->out, x);
}

static int enc_bits(struct jenc *e, const struct meta_type *t, const cJSON *v)
{
	size_t store;
	int msb, rc;
	if (meta_bit_layout(e->m, t, &store, &msb) || !cJSON_IsArray(v))
		return -EINVAL;
	size_t nbits = (size_t)cJSON_GetArraySize(v), bits_per = 8 * store;
	size_t nbytes = (nbits + bits_per - 1) / bits_per * store;
	if ((rc = scale_put_compact(e->out, nbits)) || (rc = zbuf_reserve(e->out, nbytes)))
		return rc;
	uint8_t *p = e->out->data + e->out->len;
	memset(p, 0, nbytes);
	size_t i = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, v) {
		if (!cJSON_IsBool(item))
			return -EINVAL;
		size_t s = i / bits_per, b = i % bits_per;
		size_t pos = msb ? bits_per - 1 - b : b;
		if (cJSON_IsTrue(item))
			p[s * store + pos / 8] |= (uint8_t)(1u << (pos % 8));
		i++;
	}
	e->out->len += nbytes;
	return 0;
}

static int enc_value(struct jenc *e, uint32_t type, const cJSON *v, int depth)
{
	const struct meta_type *t = meta_type(e->m, type);
	if (!t || !v)
		return -EINVAL;
	if (depth > META_MAX_DEPTH || e->nodes >= META_MAX_NODES)
		return ZE_TOOBIG;
	e->nodes++;
	switch (t->kind) {
	case META_PRIMITIVE:
		return enc_prim(e, t->prim, v);
	case META_COMPOSITE:
		/* Accounts may also be given as SS58, as users know them. */
		if (cJSON_IsString(v) && strncmp(v->valuestring, "0x", 2) != 0 &&
		    strcmp(meta_type_name(t), "AccountId32") == 0) {
			uint8_t pk[32];
			if (key_parse_account(v->valuestring, pk) != 0)
				return -EINVAL;
			return zbuf_put(e->out, pk, sizeof pk);
		}
		return enc_fields(e, t->fields, t->nfields, v, depth);
	case META_VARIANT:
		return enc_variant(e, t, v, depth);
	case META_SEQUENCE: {
		if (meta_is_u8(e->m, t->elem) && cJSON_IsString(v))
			return enc_hex(e, v, SIZE_MAX, 1);
		if (!cJSON_IsArray(v))
			return -EINVAL;
		int rc = scale_put_compact(e->out, (uint64_t)cJSON_GetArraySize(v));
		return rc ? rc : enc_list(e, t->elem, v, depth);
	}
	case META_ARRAY:
		if (meta_is_u8(e->m, t->elem) && cJSON_IsString(v))
			return enc_hex(e, v, t->len, 0);
		if (!cJSON_IsArray(v) || (uint64_t)cJSON_GetArraySize(v) != t->len)
			return -EINVAL;
		return enc_list(e, t->elem, v, depth);
	case META_TUPLE: {
		if (t->ntuple == 0)
			return cJSON_IsNull(v) || (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0)
				       ? 0 : -EINVAL;
		if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) != t->ntuple)
			return -EINVAL;
		for (size_t i = 0; i < t->ntuple; i++) {
			int rc = enc_value(e, t->tuple[i], cJSON_GetArrayItem(v, (int)i), depth + 1);
			if (rc)
				return rc;
		}
		return 0;
	}
	case META_COMPACT:
		return enc_compact(e, t->elem, v);
	case META_BITSEQ:
		return enc_bits(e, t, v);
	}
	return -EINVAL;
}

int meta_from_json(const struct meta *m, uint32_t type, const cJSON *v, struct zbuf *out)
{
	struct jenc e = {.m = m, .out = out};
	size_t old = out->len;
	int rc = enc_value(&e, type, v, 0);
	if (rc)
		out->len = old;
	return rc;
}

int meta_encode_call(const struct meta *m, const char *pallet, const char *call,
		     const cJSON *args, struct zbuf *out)
{
	const struct meta_pallet *p = meta_pallet(m, pallet);
	const struct meta_variant *v = meta_call(m, p, call);
	struct jenc e = {.m = m, .out = out};
	size_t old = out->len;
	int rc;

	if (!v)
		return ZE_ABSENT;
	if (!cJSON_IsArray(args) || (size_t)cJSON_GetArraySize(args) != v->nfields)
		return -EINVAL;
	if ((rc = scale_put_u8(out, p->index)) || (rc = scale_put_u8(out, v->index)))
		goto fail;
	for (size_t i = 0; i < v->nfields; i++)
		if ((rc = enc_value(&e, v->fields[i].type, cJSON_GetArrayItem(args, (int)i), 1)))
			goto fail;
	return 0;
fail:
	out->len = old;
	return rc;
}
