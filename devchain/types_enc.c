/* PortableRegistry encoding and by-type SCALE checking of the registry. */
#include "devchain/types.h"

#include <string.h>

#include "common/zerr.h"

#define CHECK_DEPTH 32
#define CHECK_MAX_ITEMS (1u << 20)

int dev_put_str(struct zbuf *b, const char *s)
{
	return scale_put_vec_u8(b, (const uint8_t *)s, strlen(s));
}

static int put_opt_str(struct zbuf *b, const char *s)
{
	if (!s)
		return scale_put_u8(b, 0);
	int rc = scale_put_u8(b, 1);
	return rc ? rc : dev_put_str(b, s);
}

/* A "::"-joined path as Vec<String>. */
static int put_path(struct zbuf *b, const char *path)
{
	size_t n = 0;
	const char *p = path;
	int rc;
	if (!path)
		return scale_put_compact(b, 0);
	for (;;) {
		n++;
		const char *sep = strstr(p, "::");
		if (!sep)
			break;
		p = sep + 2;
	}
	if ((rc = scale_put_compact(b, n)))
		return rc;
	for (p = path;;) {
		const char *sep = strstr(p, "::");
		size_t len = sep ? (size_t)(sep - p) : strlen(p);
		if ((rc = scale_put_vec_u8(b, (const uint8_t *)p, len)))
			return rc;
		if (!sep)
			return 0;
		p = sep + 2;
	}
}

static int put_fields(struct zbuf *b, const struct dev_tfield *f, size_t n)
{
	int rc = scale_put_compact(b, n);
	for (size_t i = 0; i < n && !rc; i++) {
		if ((rc = put_opt_str(b, f[i].name)) || (rc = scale_put_compact(b, f[i].type)) ||
		    (rc = put_opt_str(b, f[i].type_name)))
			break;
		rc = scale_put_compact(b, 0); /* docs */
	}
	return rc;
}

static int put_def(struct zbuf *b, const struct dev_tdef *d)
{
	int rc;
	if ((rc = put_path(b, d->path)) || (rc = scale_put_compact(b, d->nparams)))
		return rc;
	for (size_t i = 0; i < d->nparams; i++) {
		if ((rc = dev_put_str(b, d->param_names[i])))
			return rc;
		if (d->params[i] == DEV_TYPE_NONE)
			rc = scale_put_u8(b, 0);
		else if (!(rc = scale_put_u8(b, 1)))
			rc = scale_put_compact(b, d->params[i]);
		if (rc)
			return rc;
	}
	if ((rc = scale_put_u8(b, (uint8_t)d->kind)))
		return rc;
	switch (d->kind) {
	case DEV_K_COMPOSITE:
		rc = put_fields(b, d->fields, d->n);
		break;
	case DEV_K_VARIANT:
		rc = scale_put_compact(b, d->n);
		for (size_t i = 0; i < d->n && !rc; i++) {
			const struct dev_tvariant *v = &d->variants[i];
			if ((rc = dev_put_str(b, v->name)) ||
			    (rc = put_fields(b, v->fields, v->nfields)) ||
			    (rc = scale_put_u8(b, v->index)))
				break;
			rc = scale_put_compact(b, 0);
		}
		break;
	case DEV_K_SEQUENCE:
	case DEV_K_COMPACT:
		rc = scale_put_compact(b, d->of);
		break;
	case DEV_K_ARRAY:
		if (!(rc = scale_put_u32(b, d->len)))
			rc = scale_put_compact(b, d->of);
		break;
	case DEV_K_TUPLE:
		rc = scale_put_compact(b, d->n);
		for (size_t i = 0; i < d->n && !rc; i++)
			rc = scale_put_compact(b, d->items[i]);
		break;
	case DEV_K_PRIMITIVE:
		rc = scale_put_u8(b, (uint8_t)d->prim);
		break;
	}
	if (!rc)
		rc = scale_put_compact(b, 0); /* docs */
	return rc;
}

int dev_types_encode(const struct dev_types *r, struct zbuf *out)
{
	int rc = r->err ? r->err : scale_put_compact(out, r->n);
	for (size_t i = 0; i < r->n && !rc; i++) {
		if (!(rc = scale_put_compact(out, i)))
			rc = put_def(out, &r->v[i]);
	}
	return rc;
}

static size_t prim_size(enum dev_prim p)
{
	switch (p) {
	case DEV_P_BOOL:
	case DEV_P_U8:
		return 1;
	case DEV_P_U16:
		return 2;
	case DEV_P_U32:
		return 4;
	case DEV_P_U64:
		return 8;
	case DEV_P_U128:
		return 16;
	case DEV_P_STR:
		break;
	}
	return 0;
}

static int check(const struct dev_types *r, dev_type t, struct scale_rd *rd, int depth)
{
	if (t >= r->n || depth > CHECK_DEPTH)
		return ZE_MALFORMED;
	const struct dev_tdef *d = &r->v[t];
	int rc = 0;
	size_t n;
	switch (d->kind) {
	case DEV_K_PRIMITIVE:
		if (d->prim == DEV_P_BOOL) {
			int v;
			return scale_get_bool(rd, &v);
		}
		if (d->prim == DEV_P_STR) {
			const uint8_t *p;
			return scale_get_vec_u8(rd, DEV_VALUE_MAX, &p, &n);
		}
		return scale_skip(rd, prim_size(d->prim));
	case DEV_K_COMPACT: {
		scale_u128 v;
		const struct dev_tdef *in = d->of < r->n ? &r->v[d->of] : NULL;
		if ((rc = scale_get_compact128(rd, &v)))
			return rc;
		/* A compact wider than its integer type does not decode. */
		if (in && in->kind == DEV_K_PRIMITIVE && prim_size(in->prim) < 16 &&
		    v >> (8 * prim_size(in->prim)))
			return ZE_MALFORMED;
		return 0;
	}
	case DEV_K_SEQUENCE:
		if ((rc = scale_get_len(rd, CHECK_MAX_ITEMS, 0, &n)))
			return rc;
		for (size_t i = 0; i < n && !rc; i++)
			rc = check(r, d->of, rd, depth + 1);
		return rc;
	case DEV_K_ARRAY:
		for (uint32_t i = 0; i < d->len && !rc; i++)
			rc = check(r, d->of, rd, depth + 1);
		return rc;
	case DEV_K_TUPLE:
		for (size_t i = 0; i < d->n && !rc; i++)
			rc = check(r, d->items[i], rd, depth + 1);
		return rc;
	case DEV_K_COMPOSITE:
		for (size_t i = 0; i < d->n && !rc; i++)
			rc = check(r, d->fields[i].type, rd, depth + 1);
		return rc;
	case DEV_K_VARIANT: {
		uint8_t idx;
		if ((rc = scale_get_u8(rd, &idx)))
			return rc;
		for (size_t i = 0; i < d->n; i++) {
			const struct dev_tvariant *v = &d->variants[i];
			if (v->index != idx)
				continue;
			for (size_t j = 0; j < v->nfields && !rc; j++)
				rc = check(r, v->fields[j].type, rd, depth + 1);
			return rc;
		}
		return ZE_MALFORMED;
	}
	}
	return ZE_MALFORMED;
}

int dev_types_check(const struct dev_types *r, dev_type t, struct scale_rd *rd)
{
	int rc = check(r, t, rd, 0);
	return rc == ZE_TOOBIG ? ZE_MALFORMED : rc;
}
