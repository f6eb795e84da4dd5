/* Runtime metadata v14 generated from the pallets' own descriptions (metagen.h). */
#include "devchain/metagen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/hash.h"
#include "common/log.h"
#include "common/zerr.h"

#define META_MAGIC 0x6174656du /* "meta" little-endian */

struct mcall {
	char *name;
	uint8_t index;
	size_t nargs;
	struct dev_field *args; /* names/type_names owned */
};

struct mstorage {
	struct dev_storage_desc d; /* name, hashers, keys, def owned */
};

struct mconst {
	char *name;
	dev_type type;
	uint8_t *val;
	size_t len;
};

struct mpallet {
	const struct dev_pallet *p;
	struct mcall *calls;
	size_t ncalls;
	struct mstorage *storage;
	size_t nstorage;
	dev_type events, calls_type, errors;
	char **errnames;
	size_t nerrors;
	struct mconst *consts;
	size_t nconsts;
};

struct dev_meta {
	struct dev_types types;
	struct mpallet *pallets;
	size_t npallets;
	struct mpallet *cur; /* the pallet describe() is running for */
	int err;
	dev_type runtime_call, runtime_event;
	struct zbuf bytes;
};

static void set_err(struct dev_meta *m, int err)
{
	if (!m->err)
		m->err = err;
}

struct dev_types *dev_meta_types(struct dev_meta *m)
{
	return &m->types;
}

struct dev_types *dev_meta_registry(struct dev_meta *m)
{
	return &m->types;
}

/* Grows *v (of *n elements of size sz) by one zeroed element. */
static void *grow(struct dev_meta *m, void **v, size_t *n, size_t sz)
{
	if (*n >= 4096) {
		set_err(m, ZE_TOOBIG);
		return NULL;
	}
	void *nv = realloc(*v, (*n + 1) * sz);
	if (!nv) {
		set_err(m, -ENOMEM);
		return NULL;
	}
	*v = nv;
	void *e = (char *)nv + *n * sz;
	memset(e, 0, sz);
	(*n)++;
	return e;
}

static char *mdup(struct dev_meta *m, const char *s)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		set_err(m, -ENOMEM);
	return d;
}

static void *mcopy(struct dev_meta *m, const void *p, size_t n)
{
	if (!n)
		return NULL;
	void *d = malloc(n);
	if (!d)
		set_err(m, -ENOMEM);
	else
		memcpy(d, p, n);
	return d;
}

void dev_meta_call(struct dev_meta *m, const char *name, uint8_t index, size_t nargs,
		   const struct dev_field *args)
{
	if (!m->cur)
		return;
	struct mpallet *mp = m->cur;
	struct mcall *c = grow(m, (void **)&mp->calls, &mp->ncalls, sizeof(*c));
	if (!c)
		return;
	c->name = mdup(m, name);
	c->index = index;
	if (nargs) {
		c->args = calloc(nargs, sizeof(*c->args));
		if (!c->args) {
			set_err(m, -ENOMEM);
			return;
		}
		c->nargs = nargs;
		for (size_t i = 0; i < nargs; i++) {
			c->args[i].name = mdup(m, args[i].name);
			c->args[i].type_name = mdup(m, args[i].type_name);
			c->args[i].type = args[i].type;
		}
	}
}

void dev_meta_call_args(struct dev_meta *m, const char *name, size_t nargs,
                        const struct dev_field *args)
{
	if (!m->cur)
		return;
	const struct dev_pallet *p = m->cur->p;
	for (size_t i = 0; i < p->ncalls; i++)
		if (strcmp(p->calls[i].name, name) == 0) {
			dev_meta_call(m, name, p->calls[i].index, nargs, args);
			return;
		}
	log_err("devchain", "%s: call %s described but not dispatched", p->name, name);
	set_err(m, -EINVAL);
}

void dev_meta_storage(struct dev_meta *m, const struct dev_storage_desc *d)
{
	if (!m->cur)
		return;
	struct mpallet *mp = m->cur;
	struct mstorage *s = grow(m, (void **)&mp->storage, &mp->nstorage, sizeof(*s));
	if (!s)
		return;
	s->d = *d;
	s->d.name = mdup(m, d->name);
	s->d.hashers = mcopy(m, d->hashers, d->nkeys);
	s->d.keys = mcopy(m, d->keys, d->nkeys * sizeof(*d->keys));
	s->d.def = mcopy(m, d->def, d->deflen);
	if (d->nkeys > 4 || (d->deflen && !d->def))
		set_err(m, -EINVAL);
}

void dev_meta_events(struct dev_meta *m, dev_type event_variant)
{
	if (m->cur)
		m->cur->events = event_variant;
}

void dev_meta_errors(struct dev_meta *m, size_t n, const char *const *names)
{
	if (!m->cur || n > 256) {
		set_err(m, -EINVAL);
		return;
	}
	struct mpallet *mp = m->cur;
	mp->errnames = calloc(n ? n : 1, sizeof(char *));
	if (!mp->errnames) {
		set_err(m, -ENOMEM);
		return;
	}
	mp->nerrors = n;
	for (size_t i = 0; i < n; i++)
		mp->errnames[i] = mdup(m, names[i]);
}

void dev_meta_constant(struct dev_meta *m, const char *name, dev_type type, const uint8_t *val,
		       size_t len)
{
	if (!m->cur)
		return;
	struct mpallet *mp = m->cur;
	struct mconst *c = grow(m, (void **)&mp->consts, &mp->nconsts, sizeof(*c));
	if (!c)
		return;
	c->name = mdup(m, name);
	c->type = type;
	c->val = mcopy(m, val, len);
	c->len = len;
}

void dev_meta_free(struct dev_meta *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->npallets; i++) {
		struct mpallet *mp = &m->pallets[i];
		for (size_t j = 0; j < mp->ncalls; j++) {
			for (size_t k = 0; k < mp->calls[j].nargs; k++) {
				free((char *)mp->calls[j].args[k].name);
				free((char *)mp->calls[j].args[k].type_name);
			}
			free(mp->calls[j].args);
			free(mp->calls[j].name);
		}
		free(mp->calls);
		for (size_t j = 0; j < mp->nstorage; j++) {
			free((char *)mp->storage[j].d.name);
			free((void *)mp->storage[j].d.hashers);
			free((void *)mp->storage[j].d.keys);
			free((void *)mp->storage[j].d.def);
		}
		free(mp->storage);
		for (size_t j = 0; j < mp->nerrors; j++)
			free(mp->errnames[j]);
		free(mp->errnames);
		for (size_t j = 0; j < mp->nconsts; j++) {
			free(mp->consts[j].name);
			free(mp->consts[j].val);
		}
		free(mp->consts);
	}
	free(m->pallets);
	dev_types_free(&m->types);
	zbuf_free(&m->bytes);
	free(m);
}

/* "TfgridModule" -> "pallet_tfgridmodule::pallet::<what>". */
static void pallet_path(const char *name, const char *what, char *out, size_t n)
{
	char low[64];
	size_t i;
	for (i = 0; name[i] && i < sizeof(low) - 1; i++)
		low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] - 'A' + 'a' : name[i]);
	low[i] = 0;
	snprintf(out, n, "pallet_%s::pallet::%s", low, what);
}

/* Turns the collected calls and errors into variant types and checks them
 * against the dispatch table. */
static int finish_pallet(struct dev_meta *m, struct mpallet *mp)
{
	struct dev_types *r = &m->types;
	const struct dev_pallet *p = mp->p;
	char path[160];
	mp->calls_type = mp->errors = DEV_TYPE_NONE;
	if (mp->ncalls != p->ncalls) {
		log_err("devchain", "%s: %zu calls described, %zu dispatched", p->name, mp->ncalls,
			p->ncalls);
		return -EINVAL;
	}
	if (mp->ncalls) {
		struct dev_variant *vs = calloc(mp->ncalls, sizeof(*vs));
		if (!vs)
			return -ENOMEM;
		for (size_t i = 0; i < mp->ncalls; i++) {
			const struct dev_call *dc = &p->calls[i];
			if (!mp->calls[i].name || strcmp(dc->name, mp->calls[i].name) != 0 ||
			    dc->index != mp->calls[i].index || !dc->fn) {
				log_err("devchain", "%s: call %zu (%s) described differently", p->name,
					i, dc->name);
				free(vs);
				return -EINVAL;
			}
			vs[i] = (struct dev_variant){mp->calls[i].name, mp->calls[i].index,
						     mp->calls[i].nargs, mp->calls[i].args};
		}
		pallet_path(p->name, "Call", path, sizeof(path));
		mp->calls_type = dev_type_variant(r, path, mp->ncalls, vs);
		free(vs);
	}
	if (mp->nerrors) {
		struct dev_variant *vs = calloc(mp->nerrors, sizeof(*vs));
		if (!vs)
			return -ENOMEM;
		for (size_t i = 0; i < mp->nerrors; i++)
			vs[i] = (struct dev_variant){mp->errnames[i], (uint8_t)i, 0, NULL};
		pallet_path(p->name, "Error", path, sizeof(path));
		mp->errors = dev_type_variant(r, path, mp->nerrors, vs);
		free(vs);
	}
	return r->err;
}

/* RuntimeCall / RuntimeEvent: one variant per pallet wrapping its type. */
static dev_type outer(struct dev_meta *m, const char *path, int events)
{
	struct dev_variant vs[64];
	struct dev_field fs[64];
	size_t n = 0;
	if (m->npallets > 64) {
		set_err(m, ZE_TOOBIG);
		return DEV_TYPE_NONE;
	}
	for (size_t i = 0; i < m->npallets; i++) {
		struct mpallet *mp = &m->pallets[i];
		dev_type t = events ? mp->events : mp->calls_type;
		if (t == DEV_TYPE_NONE)
			continue;
		fs[n] = (struct dev_field){NULL, t, NULL};
		vs[n] = (struct dev_variant){mp->p->name, mp->p->index, 1, &fs[n]};
		n++;
	}
	return dev_type_variant(&m->types, path, n, vs);
}

int dev_meta_build(const struct dev_pallet *const *pallets, size_t n, struct dev_meta **out)
{
	struct dev_meta *m = calloc(1, sizeof(*m));
	int rc = 0;
	if (!m)
		return -ENOMEM;
	dev_types_init(&m->types);
	zbuf_init(&m->bytes, 16u << 20);
	m->pallets = calloc(n ? n : 1, sizeof(*m->pallets));
	if (!m->pallets) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct mpallet *mp = &m->pallets[i];
		mp->p = pallets[i];
		mp->events = DEV_TYPE_NONE;
		m->npallets = i + 1;
		m->cur = mp;
		if (pallets[i]->describe && (rc = pallets[i]->describe(m)))
			goto fail;
		m->cur = NULL;
		if ((rc = m->err ? m->err : m->types.err))
			goto fail;
		if ((rc = finish_pallet(m, mp)))
			goto fail;
	}
	m->runtime_call = outer(m, "tfchain_runtime::RuntimeCall", 0);
	m->runtime_event = outer(m, "tfchain_runtime::RuntimeEvent", 1);
	if ((rc = m->err ? m->err : m->types.err))
		goto fail;
	if ((rc = dev_meta_build_runtime(m)))
		goto fail;
	*out = m;
	return 0;
fail:
	log_err("devchain", "metadata: %s", zerr_str(rc));
	dev_meta_free(m);
	return rc;
}

const uint8_t *dev_meta_bytes(const struct dev_meta *m, size_t *len)
{
	*len = m->bytes.len;
	return m->bytes.data;
}

int dev_meta_check_call(const struct dev_meta *m, const uint8_t *call, size_t len)
{
	struct scale_rd rd;
	scale_rd_init(&rd, call, len);
	int rc = dev_types_check(&m->types, m->runtime_call, &rd);
	if (!rc && scale_rd_left(&rd))
		rc = ZE_MALFORMED;
	return rc;
}

/* ---- Encoding ---- */

static int put_storage(struct zbuf *b, struct dev_meta *m, const struct dev_storage_desc *d)
{
	int rc;
	if ((rc = dev_put_str(b, d->name)) || (rc = scale_put_u8(b, (uint8_t)d->modifier)))
		return rc;
	if (!d->nkeys) {
		if ((rc = scale_put_u8(b, 0)) || (rc = scale_put_compact(b, d->value)))
			return rc;
	} else {
		dev_type key = d->nkeys == 1 ? d->keys[0] : dev_type_tuple(&m->types, d->nkeys, d->keys);
		if (key == DEV_TYPE_NONE)
			return m->types.err ? m->types.err : -EINVAL;
		if ((rc = scale_put_u8(b, 1)) || (rc = scale_put_compact(b, d->nkeys)))
			return rc;
		for (size_t i = 0; i < d->nkeys; i++)
			if ((rc = scale_put_u8(b, d->hashers[i])))
				return rc;
		if ((rc = scale_put_compact(b, key)) || (rc = scale_put_compact(b, d->value)))
			return rc;
	}
	/* An Optional entry's default is None, encoded 0x00. */
	static const uint8_t none = 0;
	if (d->modifier == DEV_STORAGE_OPTIONAL || !d->deflen)
		rc = scale_put_vec_u8(b, &none, 1);
	else
		rc = scale_put_vec_u8(b, d->def, d->deflen);
	return rc ? rc : scale_put_compact(b, 0);
}

static int put_opt_type(struct zbuf *b, dev_type t)
{
	if (t == DEV_TYPE_NONE)
		return scale_put_u8(b, 0);
	int rc = scale_put_u8(b, 1);
	return rc ? rc : scale_put_compact(b, t);
}

static int put_pallet(struct zbuf *b, struct dev_meta *m, const struct mpallet *mp)
{
	int rc;
	if ((rc = dev_put_str(b, mp->p->name)))
		return rc;
	if (!mp->nstorage) {
		rc = scale_put_u8(b, 0);
	} else if (!(rc = scale_put_u8(b, 1)) && !(rc = dev_put_str(b, mp->p->name)) &&
		   !(rc = scale_put_compact(b, mp->nstorage))) {
		for (size_t i = 0; i < mp->nstorage && !rc; i++)
			rc = put_storage(b, m, &mp->storage[i].d);
	}
	if (rc || (rc = put_opt_type(b, mp->calls_type)) || (rc = put_opt_type(b, mp->events)))
		return rc;
	if ((rc = scale_put_compact(b, mp->nconsts)))
		return rc;
	for (size_t i = 0; i < mp->nconsts && !rc; i++) {
		const struct mconst *c = &mp->consts[i];
		if ((rc = dev_put_str(b, c->name)) || (rc = scale_put_compact(b, c->type)) ||
		    (rc = scale_put_vec_u8(b, c->val, c->len)))
			break;
		rc = scale_put_compact(b, 0);
	}
	if (rc || (rc = put_opt_type(b, mp->errors)))
		return rc;
	return scale_put_u8(b, mp->p->index);
}

/* Encodes everything once the registry is complete. Storage keys of several
 * hashers may add tuple types, so pallets are encoded into their own buffer
 * before the registry. */
int dev_meta_encode_all(struct dev_meta *m, dev_type extrinsic, const struct dev_ext_desc *exts,
			size_t nexts, dev_type runtime)
{
	struct zbuf tail;
	int rc;
	zbuf_init(&tail, 16u << 20);
	rc = scale_put_compact(&tail, m->npallets);
	for (size_t i = 0; i < m->npallets && !rc; i++)
		rc = put_pallet(&tail, m, &m->pallets[i]);
	if (!rc && !(rc = scale_put_compact(&tail, extrinsic)) && !(rc = scale_put_u8(&tail, 4)) &&
	    !(rc = scale_put_compact(&tail, nexts))) {
		for (size_t i = 0; i < nexts && !rc; i++)
			if (!(rc = dev_put_str(&tail, exts[i].name)) &&
			    !(rc = scale_put_compact(&tail, exts[i].type)))
				rc = scale_put_compact(&tail, exts[i].additional);
	}
	if (!rc)
		rc = scale_put_compact(&tail, runtime);
	if (!rc)
		rc = m->types.err;
	zbuf_reset(&m->bytes);
	if (!rc && !(rc = scale_put_u32(&m->bytes, META_MAGIC)) &&
	    !(rc = scale_put_u8(&m->bytes, 14)) && !(rc = dev_types_encode(&m->types, &m->bytes)))
		rc = zbuf_put(&m->bytes, tail.data, tail.len);
	zbuf_free(&tail);
	return rc;
}

dev_type dev_meta_runtime_event(const struct dev_meta *m)
{
	return m->runtime_event;
}

dev_type dev_meta_runtime_call(const struct dev_meta *m)
{
	return m->runtime_call;
}

/* System's storage gets its Events entry here, once RuntimeEvent exists. */
int dev_meta_add_storage(struct dev_meta *m, const char *pallet, const struct dev_storage_desc *d)
{
	for (size_t i = 0; i < m->npallets; i++) {
		if (strcmp(m->pallets[i].p->name, pallet) != 0)
			continue;
		m->cur = &m->pallets[i];
		dev_meta_storage(m, d);
		m->cur = NULL;
		return m->err;
	}
	return ZE_ABSENT;
}
