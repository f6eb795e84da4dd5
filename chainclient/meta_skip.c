/*
 * Walking over one SCALE value by its registry type without building
 * anything: how a reader passes over values it does not want (events of
 * pallets nobody asked for) at no allocation. Bounded like the JSON decoder:
 * depth by META_MAX_DEPTH, items by META_MAX_NODES.
 */
#include "chainclient/meta_int.h"

#include "common/zerr.h"

struct skipper {
	const struct meta *m;
	struct scale_rd *r;
	size_t nodes;
};

static int skip_value(struct skipper *k, uint32_t type, int depth);

static int skip_n(struct skipper *k, uint32_t elem, uint64_t n, int depth)
{
	int rc = 0;
	for (uint64_t i = 0; i < n && rc == 0; i++)
		rc = skip_value(k, elem, depth + 1);
	return rc;
}

static int skip_prim(struct skipper *k, enum meta_prim p)
{
	const uint8_t *s;
	size_t w, n;
	int b, is_signed;
	uint32_t cp;

	switch (p) {
	case META_BOOL:
		return scale_get_bool(k->r, &b);
	case META_CHAR:
		return scale_get_u32(k->r, &cp);
	case META_STR:
		return scale_get_vec_u8(k->r, scale_rd_left(k->r), &s, &n);
	default:
		if (meta_int_width(p, &w, &is_signed))
			return ZE_MALFORMED;
		return scale_skip(k->r, w);
	}
}

static int skip_bits(struct skipper *k, const struct meta_type *t)
{
	size_t store, nbits;
	int msb, rc;
	if (meta_bit_layout(k->m, t, &store, &msb))
		return ZE_UNSUPPORTED;
	if ((rc = scale_get_len(k->r, META_MAX_NODES, 0, &nbits)))
		return rc;
	size_t bits_per = 8 * store, nstores = (nbits + bits_per - 1) / bits_per;
	if (nstores > scale_rd_left(k->r) / store)
		return ZE_MALFORMED;
	return scale_skip(k->r, nstores * store);
}

static int skip_value(struct skipper *k, uint32_t type, int depth)
{
	const struct meta_type *t = meta_type(k->m, type);
	const uint8_t *p;
	scale_u128 v;
	size_t n;
	uint8_t idx;
	int rc = 0;

	if (!t)
		return ZE_MALFORMED;
	if (depth > META_MAX_DEPTH || k->nodes >= META_MAX_NODES)
		return ZE_TOOBIG;
	k->nodes++;
	switch (t->kind) {
	case META_PRIMITIVE:
		return skip_prim(k, t->prim);
	case META_COMPOSITE:
		for (size_t i = 0; i < t->nfields && rc == 0; i++)
			rc = skip_value(k, t->fields[i].type, depth + 1);
		return rc;
	case META_VARIANT: {
		if ((rc = scale_get_u8(k->r, &idx)))
			return rc;
		const struct meta_variant *var = meta_variant_by_index(t, idx);
		if (!var)
			return ZE_MALFORMED;
		for (size_t i = 0; i < var->nfields && rc == 0; i++)
			rc = skip_value(k, var->fields[i].type, depth + 1);
		return rc;
	}
	case META_SEQUENCE:
		if (meta_is_u8(k->m, t->elem))
			return scale_get_vec_u8(k->r, scale_rd_left(k->r), &p, &n);
		if ((rc = scale_get_len(k->r, META_MAX_NODES, 0, &n)))
			return rc;
		return skip_n(k, t->elem, n, depth);
	case META_ARRAY:
		if (meta_is_u8(k->m, t->elem))
			return scale_skip(k->r, t->len);
		return skip_n(k, t->elem, t->len, depth);
	case META_TUPLE:
		for (size_t i = 0; i < t->ntuple && rc == 0; i++)
			rc = skip_value(k, t->tuple[i], depth + 1);
		return rc;
	case META_COMPACT:
		rc = scale_get_compact128(k->r, &v);
		return rc == ZE_TOOBIG ? ZE_MALFORMED : rc;
	case META_BITSEQ:
		return skip_bits(k, t);
	}
	return ZE_MALFORMED;
}

int meta_skip(const struct meta *m, uint32_t type, struct scale_rd *r)
{
	struct scale_rd t = *r;
	struct skipper k = {.m = m, .r = &t};
	int rc = skip_value(&k, type, 0);
	if (rc == 0)
		*r = t;
	return rc;
}
