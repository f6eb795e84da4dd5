/* Metadata lookups by name and index, storage keys, loading from a file. */
#include "chainclient/meta.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/file.h"
#include "common/zerr.h"

const struct meta_type *meta_type(const struct meta *m, uint32_t id)
{
	return id < m->ntypes ? &m->types[id] : NULL;
}

const struct meta_pallet *meta_pallet(const struct meta *m, const char *name)
{
	for (size_t i = 0; i < m->npallets; i++)
		if (strcmp(m->pallets[i].name, name) == 0)
			return &m->pallets[i];
	return NULL;
}

const struct meta_pallet *meta_pallet_by_index(const struct meta *m, uint8_t index)
{
	for (size_t i = 0; i < m->npallets; i++)
		if (m->pallets[i].index == index)
			return &m->pallets[i];
	return NULL;
}

const struct meta_storage *meta_storage(const struct meta_pallet *p, const char *name)
{
	for (size_t i = 0; i < p->nstorage; i++)
		if (strcmp(p->storage[i].name, name) == 0)
			return &p->storage[i];
	return NULL;
}

const struct meta_constant *meta_constant(const struct meta_pallet *p, const char *name)
{
	for (size_t i = 0; i < p->nconstants; i++)
		if (strcmp(p->constants[i].name, name) == 0)
			return &p->constants[i];
	return NULL;
}

const struct meta_variant *meta_variant_by_name(const struct meta_type *t, const char *name)
{
	if (!t || t->kind != META_VARIANT)
		return NULL;
	for (size_t i = 0; i < t->nvariants; i++)
		if (strcmp(t->variants[i].name, name) == 0)
			return &t->variants[i];
	return NULL;
}

const struct meta_variant *meta_variant_by_index(const struct meta_type *t, uint8_t index)
{
	if (!t || t->kind != META_VARIANT)
		return NULL;
	for (size_t i = 0; i < t->nvariants; i++)
		if (t->variants[i].index == index)
			return &t->variants[i];
	return NULL;
}

const struct meta_variant *meta_call(const struct meta *m, const struct meta_pallet *p,
				     const char *name)
{
	return p && p->has_calls ? meta_variant_by_name(meta_type(m, p->calls_type), name) : NULL;
}

const struct meta_variant *meta_event(const struct meta *m, const struct meta_pallet *p,
				      const char *name)
{
	return p && p->has_events ? meta_variant_by_name(meta_type(m, p->events_type), name)
				  : NULL;
}

const struct meta_variant *meta_error(const struct meta *m, const struct meta_pallet *p,
				      const char *name)
{
	return p && p->has_errors ? meta_variant_by_name(meta_type(m, p->errors_type), name)
				  : NULL;
}

const struct meta_signed_ext *meta_signed_ext(const struct meta *m, const char *identifier)
{
	for (size_t i = 0; i < m->nexts; i++)
		if (strcmp(m->exts[i].identifier, identifier) == 0)
			return &m->exts[i];
	return NULL;
}

const char *meta_type_name(const struct meta_type *t)
{
	return t && t->npath ? t->path[t->npath - 1] : "";
}

int meta_storage_key_type(const struct meta *m, const struct meta_storage *s, size_t i,
			  uint32_t *type)
{
	if (!s->is_map || i >= s->nhashers)
		return -EINVAL;
	if (s->nhashers == 1) {
		*type = s->key_type;
		return 0;
	}
	const struct meta_type *t = meta_type(m, s->key_type);
	if (!t || t->kind != META_TUPLE || t->ntuple != s->nhashers)
		return ZE_MALFORMED;
	*type = t->tuple[i];
	return 0;
}

int meta_storage_key(const struct meta *m, const char *pallet, const char *item,
		     size_t nkeys, const uint8_t *const *keys, const size_t *key_lens,
		     struct zbuf *out)
{
	const struct meta_pallet *p = meta_pallet(m, pallet);
	const struct meta_storage *s = p ? meta_storage(p, item) : NULL;
	if (!s || !p->storage_prefix)
		return ZE_ABSENT;
	if (nkeys > s->nhashers)
		return -EINVAL;
	/* The key uses the pallet's storage prefix, which may differ from its name. */
	return chain_storage_key(p->storage_prefix, s->name, nkeys, s->hashers, keys, key_lens,
				 out);
}

int meta_storage_key_decode(const struct meta *m, const struct meta_storage *s,
			    const uint8_t *full, size_t n, cJSON **out)
{
	struct scale_rd r;
	cJSON *arr;
	int rc = 0;
	if (!s->is_map)
		return -EINVAL;
	scale_rd_init(&r, full, n);
	if (scale_skip(&r, 32) != 0)
		return ZE_MALFORMED;
	if (!(arr = cJSON_CreateArray()))
		return -ENOMEM;
	for (size_t i = 0; rc == 0 && i < s->nhashers; i++) {
		uint32_t type;
		cJSON *key;
		if (!chain_hasher_is_concat(s->hashers[i])) {
			rc = ZE_UNSUPPORTED;
			break;
		}
		if ((rc = scale_skip(&r, chain_hasher_prefix_len(s->hashers[i]))) ||
		    (rc = meta_storage_key_type(m, s, i, &type)) ||
		    (rc = meta_to_json(m, type, &r, &key)))
			break;
		cJSON_AddItemToArray(arr, key);
	}
	if (rc == 0 && scale_rd_left(&r) != 0)
		rc = ZE_MALFORMED;
	if (rc) {
		cJSON_Delete(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

int meta_load_file(const char *path, struct meta **out)
{
	uint8_t *raw = NULL, *bin = NULL;
	size_t n = 0, binlen;
	/* Hex text takes two digits per byte plus a prefix and whitespace. */
	int rc = zfile_read(path, 2 * (size_t)META_MAX_INPUT + 64, &raw, &n);
	if (rc)
		return rc;
	if (n >= 4 && memcmp(raw, "meta", 4) != 0 && raw[0] == '0' && (raw[1] == 'x' || raw[1] == 'X')) {
		while (n > 0 && isspace(raw[n - 1]))
			raw[--n] = 0;
		rc = hex_decode_alloc((char *)raw, META_MAX_INPUT, &bin, &binlen);
		if (rc == 0)
			rc = meta_decode(bin, binlen, out);
		free(bin);
	} else {
		rc = meta_decode(raw, n, out);
	}
	free(raw);
	return rc;
}
