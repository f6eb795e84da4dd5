/*
 * The metadata type registry, its v14 encoding, and the checker that walks SCALE bytes by type
 * (types.h).
 */
#include "devchain/types.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"


void dev_types_init(struct dev_types *r)
{
	memset(r, 0, sizeof(*r));
}

static void free_fields(struct dev_tfield *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		free(f[i].name);
		free(f[i].type_name);
	}
	free(f);
}

static void free_def(struct dev_tdef *d)
{
	free(d->path);
	free_fields(d->fields, d->kind == DEV_K_COMPOSITE ? d->n : 0);
	for (size_t i = 0; d->variants && i < d->n; i++) {
		free(d->variants[i].name);
		free_fields(d->variants[i].fields, d->variants[i].nfields);
	}
	free(d->variants);
	free(d->items);
	for (size_t i = 0; i < d->nparams; i++)
		free(d->param_names[i]);
	free(d->param_names);
	free(d->params);
}

void dev_types_free(struct dev_types *r)
{
	for (size_t i = 0; i < r->n; i++)
		free_def(&r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static int fail(struct dev_types *r, int err)
{
	if (!r->err)
		r->err = err;
	return err;
}

static int valid(struct dev_types *r, dev_type t)
{
	if (t >= r->n) {
		fail(r, -EINVAL);
		return 0;
	}
	return 1;
}

static char *sdup(struct dev_types *r, const char *s, int *ok)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d) {
		fail(r, -ENOMEM);
		*ok = 0;
	}
	return d;
}

/* Appends def (taking ownership of its allocations) and returns its id. */
static dev_type add(struct dev_types *r, struct dev_tdef *def)
{
	if (r->n >= DEV_TYPES_MAX) {
		free_def(def);
		fail(r, ZE_TOOBIG);
		return DEV_TYPE_NONE;
	}
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		struct dev_tdef *nv = realloc(r->v, ncap * sizeof(*nv));
		if (!nv) {
			free_def(def);
			fail(r, -ENOMEM);
			return DEV_TYPE_NONE;
		}
		r->v = nv;
		r->cap = ncap;
	}
	r->v[r->n] = *def;
	return (dev_type)r->n++;
}

/* A structural type (no path) that already exists, or DEV_TYPE_NONE. */
static dev_type find(const struct dev_types *r, enum dev_kind kind, enum dev_prim prim,
		     dev_type of, uint32_t len)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct dev_tdef *d = &r->v[i];
		if (d->kind != kind || d->path)
			continue;
		if (kind == DEV_K_PRIMITIVE ? d->prim == prim : (d->of == of && d->len == len))
			return (dev_type)i;
	}
	return DEV_TYPE_NONE;
}

static dev_type find_path(const struct dev_types *r, const char *path, dev_type param)
{
	for (size_t i = 0; path && i < r->n; i++)
		if (r->v[i].path && strcmp(r->v[i].path, path) == 0 && r->v[i].param == param)
			return (dev_type)i;
	return DEV_TYPE_NONE;
}

static dev_type simple(struct dev_types *r, enum dev_kind kind, enum dev_prim prim, dev_type of,
		       uint32_t len)
{
	if (r->err)
		return DEV_TYPE_NONE;
	if (kind != DEV_K_PRIMITIVE && !valid(r, of))
		return DEV_TYPE_NONE;
	dev_type t = find(r, kind, prim, of, len);
	if (t != DEV_TYPE_NONE)
		return t;
	struct dev_tdef d = {.kind = kind, .prim = prim, .of = of, .len = len,
			     .param = DEV_TYPE_NONE};
	return add(r, &d);
}

dev_type dev_type_bool(struct dev_types *r) { return simple(r, DEV_K_PRIMITIVE, DEV_P_BOOL, 0, 0); }
dev_type dev_type_str(struct dev_types *r) { return simple(r, DEV_K_PRIMITIVE, DEV_P_STR, 0, 0); }
dev_type dev_type_u8(struct dev_types *r) { return simple(r, DEV_K_PRIMITIVE, DEV_P_U8, 0, 0); }
dev_type dev_type_u16(struct dev_types *r) { return simple(r, DEV_K_PRIMITIVE, DEV_P_U16, 0, 0); }
dev_type dev_type_u32(struct dev_types *r) { return simple(r, DEV_K_PRIMITIVE, DEV_P_U32, 0, 0); }
dev_type dev_type_u64(struct dev_types *r) { return simple(r, DEV_K_PRIMITIVE, DEV_P_U64, 0, 0); }
dev_type dev_type_u128(struct dev_types *r) { return simple(r, DEV_K_PRIMITIVE, DEV_P_U128, 0, 0); }
dev_type dev_type_compact(struct dev_types *r, dev_type of) { return simple(r, DEV_K_COMPACT, 0, of, 0); }
dev_type dev_type_vec(struct dev_types *r, dev_type of) { return simple(r, DEV_K_SEQUENCE, 0, of, 0); }
dev_type dev_type_array(struct dev_types *r, uint32_t len, dev_type of)
{
	return simple(r, DEV_K_ARRAY, 0, of, len);
}

dev_type dev_type_tuple(struct dev_types *r, size_t n, const dev_type *items)
{
	if (r->err)
		return DEV_TYPE_NONE;
	for (size_t i = 0; i < n; i++)
		if (!valid(r, items[i]))
			return DEV_TYPE_NONE;
	for (size_t i = 0; i < r->n; i++) {
		const struct dev_tdef *d = &r->v[i];
		if (d->kind == DEV_K_TUPLE && d->n == n &&
		    (n == 0 || memcmp(d->items, items, n * sizeof(*items)) == 0))
			return (dev_type)i;
	}
	struct dev_tdef d = {.kind = DEV_K_TUPLE, .n = n, .param = DEV_TYPE_NONE};
	if (n) {
		d.items = malloc(n * sizeof(*items));
		if (!d.items) {
			fail(r, -ENOMEM);
			return DEV_TYPE_NONE;
		}
		memcpy(d.items, items, n * sizeof(*items));
	}
	return add(r, &d);
}

static struct dev_tfield *copy_fields(struct dev_types *r, size_t n, const struct dev_field *f)
{
	int ok = 1;
	if (!n)
		return NULL;
	struct dev_tfield *out = calloc(n, sizeof(*out));
	if (!out) {
		fail(r, -ENOMEM);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!valid(r, f[i].type))
			ok = 0;
		out[i].type = f[i].type;
		out[i].name = sdup(r, f[i].name, &ok);
		out[i].type_name = sdup(r, f[i].type_name, &ok);
	}
	if (!ok) {
		free_fields(out, n);
		return NULL;
	}
	return out;
}

dev_type dev_type_composite(struct dev_types *r, const char *path, size_t nfields,
			    const struct dev_field *fields)
{
	int ok = 1;
	if (r->err)
		return DEV_TYPE_NONE;
	dev_type t = find_path(r, path, DEV_TYPE_NONE);
	if (t != DEV_TYPE_NONE)
		return t;
	struct dev_tdef d = {.kind = DEV_K_COMPOSITE, .n = nfields, .param = DEV_TYPE_NONE};
	d.fields = copy_fields(r, nfields, fields);
	d.path = sdup(r, path, &ok);
	if (r->err || !ok) {
		free_def(&d);
		return DEV_TYPE_NONE;
	}
	return add(r, &d);
}

static dev_type variant_param(struct dev_types *r, const char *path, dev_type param, size_t n,
			      const struct dev_variant *vs)
{
	int ok = 1;
	if (r->err)
		return DEV_TYPE_NONE;
	dev_type t = find_path(r, path, param);
	if (t != DEV_TYPE_NONE)
		return t;
	struct dev_tdef d = {.kind = DEV_K_VARIANT, .param = param};
	d.path = sdup(r, path, &ok);
	if (n && ok) {
		d.variants = calloc(n, sizeof(*d.variants));
		if (!d.variants)
			ok = 0, fail(r, -ENOMEM);
	}
	for (size_t i = 0; ok && i < n; i++) {
		struct dev_tvariant *v = &d.variants[i];
		d.n = i + 1;
		v->index = vs[i].index;
		v->name = sdup(r, vs[i].name, &ok);
		v->nfields = vs[i].nfields;
		v->fields = copy_fields(r, vs[i].nfields, vs[i].fields);
		if (vs[i].nfields && !v->fields)
			ok = 0;
		for (size_t j = 0; j < i && ok; j++)
			if (d.variants[j].index == v->index)
				ok = 0, fail(r, -EINVAL); /* duplicate variant index */
	}
	if (!ok || r->err) {
		free_def(&d);
		fail(r, -EINVAL);
		return DEV_TYPE_NONE;
	}
	return add(r, &d);
}

dev_type dev_type_variant(struct dev_types *r, const char *path, size_t n,
			  const struct dev_variant *vs)
{
	return variant_param(r, path, DEV_TYPE_NONE, n, vs);
}

dev_type dev_type_option(struct dev_types *r, dev_type of)
{
	if (r->err || !valid(r, of))
		return DEV_TYPE_NONE;
	const struct dev_field f = {NULL, of, NULL};
	const struct dev_variant vs[2] = {{"None", 0, 0, NULL}, {"Some", 1, 1, &f}};
	dev_type t = variant_param(r, "Option", of, 2, vs);
	if (t != DEV_TYPE_NONE && !r->v[t].nparams) {
		const char *name = "T";
		dev_types_set_params(r, t, 1, &name, &of);
	}
	return t;
}

dev_type dev_type_account_id(struct dev_types *r)
{
	const struct dev_field f = {NULL, dev_type_array(r, 32, dev_type_u8(r)), "[u8; 32]"};
	return dev_type_composite(r, "sp_core::crypto::AccountId32", 1, &f);
}

dev_type dev_type_h256(struct dev_types *r)
{
	const struct dev_field f = {NULL, dev_type_array(r, 32, dev_type_u8(r)), "[u8; 32]"};
	return dev_type_composite(r, "primitive_types::H256", 1, &f);
}

dev_type dev_type_bytes(struct dev_types *r)
{
	return dev_type_vec(r, dev_type_u8(r));
}

dev_type dev_type_balance(struct dev_types *r)
{
	return dev_type_u128(r);
}

void dev_types_set_params(struct dev_types *r, dev_type t, size_t n, const char *const *names,
			  const dev_type *params)
{
	int ok = 1;
	if (r->err || !valid(r, t))
		return;
	struct dev_tdef *d = &r->v[t];
	char **pn = calloc(n ? n : 1, sizeof(*pn));
	dev_type *pt = calloc(n ? n : 1, sizeof(*pt));
	if (!pn || !pt) {
		free(pn);
		free(pt);
		fail(r, -ENOMEM);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		pn[i] = sdup(r, names[i], &ok);
		pt[i] = params[i];
		if (params[i] != DEV_TYPE_NONE && !valid(r, params[i]))
			ok = 0;
	}
	if (!ok) {
		for (size_t i = 0; i < n; i++)
			free(pn[i]);
		free(pn);
		free(pt);
		return;
	}
	d->nparams = n;
	d->param_names = pn;
	d->params = pt;
}
