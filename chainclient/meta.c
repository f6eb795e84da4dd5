/*
 * Metadata v14 decoder. Everything decoded goes into one arena owned by the
 * struct meta, so a failure anywhere unwinds with a single meta_free().
 */
#include "chainclient/meta.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

#define CHUNK_SIZE (64u << 10)
#define DOC_MAX (1u << 20)

struct chunk {
	struct chunk *next;
	size_t used, size;
	alignas(max_align_t) uint8_t data[];
};

struct meta_arena {
	struct chunk *head;
	size_t total;
};

struct dec {
	struct scale_rd r;
	struct meta_arena *a;
	uint32_t ntypes;  /* known once the registry is read */
	uint32_t max_ref; /* largest type id referenced by the registry */
	int has_ref;
};

/* Zeroed arena memory; ZE_TOOBIG once the arena would pass its cap. */
static int aalloc(struct meta_arena *a, size_t n, void **out)
{
	const size_t align = alignof(max_align_t);
	if (n > META_MAX_ARENA)
		return ZE_TOOBIG;
	n = (n + align - 1) & ~(align - 1);
	if (n == 0)
		n = align;
	struct chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t sz = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		if (a->total + sz > META_MAX_ARENA)
			return ZE_TOOBIG;
		c = malloc(sizeof *c + sz);
		if (!c)
			return -ENOMEM;
		c->next = a->head;
		c->used = 0;
		c->size = sz;
		a->head = c;
		a->total += sz;
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	*out = p;
	return 0;
}

/* Arena array of n elements of size sz, with overflow checked. */
static int aarray(struct meta_arena *a, size_t n, size_t sz, void **out)
{
	if (sz && n > META_MAX_ARENA / sz)
		return ZE_TOOBIG;
	return aalloc(a, n * sz, out);
}

static void arena_free(struct meta_arena *a)
{
	if (!a)
		return;
	struct chunk *c = a->head;
	while (c) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
	free(a);
}

/* A name: UTF-8 text without NUL bytes, copied into the arena. */
static int get_str(struct dec *d, const char **out)
{
	const uint8_t *p;
	size_t n;
	char *s;
	int rc = scale_get_vec_u8(&d->r, META_MAX_NAME, &p, &n);
	if (rc)
		return rc;
	if (memchr(p, 0, n))
		return ZE_MALFORMED;
	if ((rc = aalloc(d->a, n + 1, (void **)&s)))
		return rc;
	memcpy(s, p, n);
	s[n] = 0;
	*out = s;
	return 0;
}

static int get_count(struct dec *d, size_t *n)
{
	return scale_get_len(&d->r, META_MAX_ITEMS, 1, n);
}

static int skip_docs(struct dec *d)
{
	size_t n;
	int rc = get_count(d, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const uint8_t *p;
		size_t len;
		rc = scale_get_vec_u8(&d->r, DOC_MAX, &p, &len);
	}
	return rc;
}

static int get_id(struct dec *d, uint32_t *id)
{
	uint64_t v;
	int rc = scale_get_compact(&d->r, &v);
	if (rc)
		return rc == ZE_TOOBIG ? ZE_MALFORMED : rc;
	if (v > UINT32_MAX)
		return ZE_MALFORMED;
	*id = (uint32_t)v;
	if (d->ntypes) {
		if (*id >= d->ntypes)
			return ZE_MALFORMED;
	} else if (!d->has_ref || *id > d->max_ref) {
		d->max_ref = *id;
		d->has_ref = 1;
	}
	return 0;
}

/* Option<T> tag: 0 or 1. */
static int get_opt(struct dec *d, int *present)
{
	return scale_get_bool(&d->r, present);
}

static int get_fields(struct dec *d, struct meta_field **out, size_t *nout)
{
	size_t n;
	int rc = get_count(d, &n);
	if (rc || (rc = aarray(d->a, n, sizeof **out, (void **)out)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct meta_field *f = &(*out)[i];
		int has;
		if ((rc = get_opt(d, &has)) || (has && (rc = get_str(d, &f->name))))
			return rc;
		if ((rc = get_id(d, &f->type)))
			return rc;
		if ((rc = get_opt(d, &has)) || (has && (rc = get_str(d, &f->type_name))))
			return rc;
		if ((rc = skip_docs(d)))
			return rc;
	}
	*nout = n;
	return 0;
}

static int get_variants(struct dec *d, struct meta_type *t)
{
	uint8_t seen[256 / 8] = {0};
	size_t n;
	int rc = get_count(d, &n);
	if (rc || (rc = aarray(d->a, n, sizeof *t->variants, (void **)&t->variants)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct meta_variant *v = &t->variants[i];
		if ((rc = get_str(d, &v->name)) || (rc = get_fields(d, &v->fields, &v->nfields)) ||
		    (rc = scale_get_u8(&d->r, &v->index)) || (rc = skip_docs(d)))
			return rc;
		/* Indices identify variants on the wire, so they must be unique. */
		if (seen[v->index / 8] & (1u << (v->index % 8)))
			return ZE_MALFORMED;
		seen[v->index / 8] |= (uint8_t)(1u << (v->index % 8));
	}
	t->nvariants = n;
	return 0;
}

static int get_typedef(struct dec *d, struct meta_type *t)
{
	uint8_t tag;
	int rc = scale_get_u8(&d->r, &tag);
	if (rc)
		return rc;
	t->kind = (enum meta_kind)tag;
	switch (tag) {
	case META_COMPOSITE:
		return get_fields(d, &t->fields, &t->nfields);
	case META_VARIANT:
		return get_variants(d, t);
	case META_SEQUENCE:
	case META_COMPACT:
		return get_id(d, &t->elem);
	case META_ARRAY:
		if ((rc = scale_get_u32(&d->r, &t->len)))
			return rc;
		return get_id(d, &t->elem);
	case META_TUPLE: {
		size_t n;
		if ((rc = get_count(d, &n)) ||
		    (rc = aarray(d->a, n, sizeof *t->tuple, (void **)&t->tuple)))
			return rc;
		for (size_t i = 0; i < n; i++)
			if ((rc = get_id(d, &t->tuple[i])))
				return rc;
		t->ntuple = n;
		return 0;
	}
	case META_PRIMITIVE: {
		uint8_t p;
		if ((rc = scale_get_u8(&d->r, &p)))
			return rc;
		if (p > META_I256)
			return ZE_MALFORMED;
		t->prim = (enum meta_prim)p;
		return 0;
	}
	case META_BITSEQ:
		if ((rc = get_id(d, &t->bit_store)))
			return rc;
		return get_id(d, &t->bit_order);
	default:
		return ZE_MALFORMED;
	}
}

static int get_type(struct dec *d, struct meta_type *t)
{
	size_t n;
	int rc = get_count(d, &n);
	if (rc || (rc = aarray(d->a, n, sizeof *t->path, (void **)&t->path)))
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = get_str(d, &t->path[i])))
			return rc;
	t->npath = n;

	if ((rc = get_count(d, &n)) ||
	    (rc = aarray(d->a, n, sizeof *t->param_names, (void **)&t->param_names)) ||
	    (rc = aarray(d->a, n, sizeof *t->param_types, (void **)&t->param_types)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		int has;
		t->param_types[i] = UINT32_MAX;
		if ((rc = get_str(d, &t->param_names[i])) || (rc = get_opt(d, &has)) ||
		    (has && (rc = get_id(d, &t->param_types[i]))))
			return rc;
	}
	t->nparams = n;
	if ((rc = get_typedef(d, t)))
		return rc;
	return skip_docs(d);
}

static int get_registry(struct dec *d, struct meta *m)
{
	size_t n;
	int rc = scale_get_len(&d->r, META_MAX_TYPES, 1, &n);
	if (rc || (rc = aarray(d->a, n, sizeof *m->types, (void **)&m->types)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint32_t id;
		if ((rc = get_id(d, &id)))
			return rc;
		/* scale-info emits ids 0..n-1 in order; we index by id. */
		if (id != i)
			return ZE_MALFORMED;
		if ((rc = get_type(d, &m->types[i])))
			return rc;
	}
	if (n == 0 || (d->has_ref && d->max_ref >= n))
		return ZE_MALFORMED;
	m->ntypes = n;
	d->ntypes = (uint32_t)n;
	return 0;
}

static int get_storage_entry(struct dec *d, struct meta_storage *s)
{
	uint8_t b;
	int rc;
	if ((rc = get_str(d, &s->name)) || (rc = scale_get_u8(&d->r, &b)))
		return rc;
	if (b > META_MOD_DEFAULT)
		return ZE_MALFORMED;
	s->modifier = (enum meta_modifier)b;
	if ((rc = scale_get_u8(&d->r, &b)))
		return rc;
	if (b == 0) {
		if ((rc = get_id(d, &s->value_type)))
			return rc;
	} else if (b == 1) {
		size_t n;
		s->is_map = 1;
		if ((rc = get_count(d, &n)) ||
		    (rc = aarray(d->a, n, sizeof *s->hashers, (void **)&s->hashers)))
			return rc;
		for (size_t i = 0; i < n; i++) {
			uint8_t h;
			if ((rc = scale_get_u8(&d->r, &h)))
				return rc;
			if (h > CHAIN_HASHER_IDENTITY)
				return ZE_MALFORMED;
			s->hashers[i] = (enum chain_hasher)h;
		}
		s->nhashers = n;
		if ((rc = get_id(d, &s->key_type)) || (rc = get_id(d, &s->value_type)))
			return rc;
	} else {
		return ZE_MALFORMED;
	}
	if ((rc = scale_get_vec_u8(&d->r, META_MAX_INPUT, &s->def, &s->def_len)))
		return rc;
	uint8_t *copy;
	if ((rc = aalloc(d->a, s->def_len, (void **)&copy)))
		return rc;
	if (s->def_len)
		memcpy(copy, s->def, s->def_len);
	s->def = copy;
	return skip_docs(d);
}

/* Option<{ty}> as used for calls, events and errors. */
static int get_opt_type(struct dec *d, int *has, uint32_t *type)
{
	int rc = get_opt(d, has);
	if (rc == 0 && *has)
		rc = get_id(d, type);
	return rc;
}

static int get_pallet(struct dec *d, struct meta_pallet *p)
{
	int rc, has;
	size_t n;
	if ((rc = get_str(d, &p->name)) || (rc = get_opt(d, &has)))
		return rc;
	if (has) {
		if ((rc = get_str(d, &p->storage_prefix)) || (rc = get_count(d, &n)) ||
		    (rc = aarray(d->a, n, sizeof *p->storage, (void **)&p->storage)))
			return rc;
		for (size_t i = 0; i < n; i++)
			if ((rc = get_storage_entry(d, &p->storage[i])))
				return rc;
		p->nstorage = n;
	}
	if ((rc = get_opt_type(d, &p->has_calls, &p->calls_type)) ||
	    (rc = get_opt_type(d, &p->has_events, &p->events_type)) || (rc = get_count(d, &n)) ||
	    (rc = aarray(d->a, n, sizeof *p->constants, (void **)&p->constants)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct meta_constant *c = &p->constants[i];
		const uint8_t *v;
		uint8_t *copy;
		if ((rc = get_str(d, &c->name)) || (rc = get_id(d, &c->type)) ||
		    (rc = scale_get_vec_u8(&d->r, META_MAX_INPUT, &v, &c->len)) ||
		    (rc = aalloc(d->a, c->len, (void **)&copy)))
			return rc;
		if (c->len)
			memcpy(copy, v, c->len);
		c->value = copy;
		if ((rc = skip_docs(d)))
			return rc;
	}
	p->nconstants = n;
	if ((rc = get_opt_type(d, &p->has_errors, &p->errors_type)))
		return rc;
	return scale_get_u8(&d->r, &p->index);
}

static int get_extrinsic(struct dec *d, struct meta *m)
{
	size_t n;
	int rc;
	if ((rc = get_id(d, &m->extrinsic_type)) ||
	    (rc = scale_get_u8(&d->r, &m->extrinsic_version)) || (rc = get_count(d, &n)) ||
	    (rc = aarray(d->a, n, sizeof *m->exts, (void **)&m->exts)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct meta_signed_ext *e = &m->exts[i];
		if ((rc = get_str(d, &e->identifier)) || (rc = get_id(d, &e->type)) ||
		    (rc = get_id(d, &e->additional)))
			return rc;
	}
	m->nexts = n;
	return 0;
}

/* Calls, events and errors must name variant types for lookups to work. */
static int check_pallets(const struct meta *m)
{
	for (size_t i = 0; i < m->npallets; i++) {
		const struct meta_pallet *p = &m->pallets[i];
		if ((p->has_calls && m->types[p->calls_type].kind != META_VARIANT) ||
		    (p->has_events && m->types[p->events_type].kind != META_VARIANT) ||
		    (p->has_errors && m->types[p->errors_type].kind != META_VARIANT))
			return ZE_MALFORMED;
	}
	return 0;
}

/* Strips a SCALE Vec<u8> wrapper when the bytes inside start with "meta". */
static void unwrap_opaque(const uint8_t **p, size_t *n)
{
	struct scale_rd r;
	const uint8_t *inner;
	size_t len;
	if (*n >= 4 && memcmp(*p, "meta", 4) == 0)
		return;
	scale_rd_init(&r, *p, *n);
	if (scale_get_vec_u8(&r, *n, &inner, &len) == 0 && scale_rd_left(&r) == 0 && len >= 4 &&
	    memcmp(inner, "meta", 4) == 0) {
		*p = inner;
		*n = len;
	}
}

int meta_decode(const uint8_t *p, size_t n, struct meta **out)
{
	struct meta *m;
	struct dec d = {0};
	size_t npallets;
	uint8_t version;
	int rc;

	if (n > META_MAX_INPUT)
		return ZE_TOOBIG;
	unwrap_opaque(&p, &n);
	if (n < 5 || memcmp(p, "meta", 4) != 0)
		return ZE_MALFORMED;
	version = p[4];
	if (version != 14)
		return ZE_UNSUPPORTED;
	if (!(m = calloc(1, sizeof *m)))
		return -ENOMEM;
	if (!(m->arena = calloc(1, sizeof *m->arena))) {
		free(m);
		return -ENOMEM;
	}
	d.a = m->arena;
	scale_rd_init(&d.r, p + 5, n - 5);
	if ((rc = get_registry(&d, m)) || (rc = get_count(&d, &npallets)) ||
	    (rc = aarray(d.a, npallets, sizeof *m->pallets, (void **)&m->pallets)))
		goto fail;
	for (size_t i = 0; i < npallets; i++)
		if ((rc = get_pallet(&d, &m->pallets[i])))
			goto fail;
	m->npallets = npallets;
	if ((rc = get_extrinsic(&d, m)) || (rc = get_id(&d, &m->runtime_type)))
		goto fail;
	if (scale_rd_left(&d.r) != 0) {
		rc = ZE_MALFORMED;
		goto fail;
	}
	if ((rc = check_pallets(m)))
		goto fail;
	*out = m;
	return 0;
fail:
	meta_free(m);
	return rc;
}

void meta_free(struct meta *m)
{
	if (!m)
		return;
	arena_free(m->arena);
	free(m);
}
