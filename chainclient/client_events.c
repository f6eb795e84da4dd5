/*
 * System.Events: reading, flattening, and naming dispatch errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainclient/client.h"
#include "chainclient/client_int.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/zerr.h"

/* The single member of a one-key object (an enum value in meta.h's form). */
static const cJSON *chain_only_member(const cJSON *o)
{
	if (!cJSON_IsObject(o) || !o->child || o->child->next)
		return NULL;
	return o->child;
}

/* Adds name/value pairs of one flattened event record. */
static int chain_flatten_record(const cJSON *rec, cJSON *arr)
{
	const cJSON *phase = cJSON_GetObjectItemCaseSensitive(rec, "phase");
	const cJSON *ev = chain_only_member(cJSON_GetObjectItemCaseSensitive(rec, "event"));
	const cJSON *inner, *ph;
	cJSON *o = NULL, *data;
	const char *evname;
	double index = -1;
	const char *phname;

	if (!ev)
		return ZE_MALFORMED;
	if (cJSON_IsString(phase)) {
		phname = phase->valuestring;
	} else if ((ph = chain_only_member(phase)) && cJSON_IsNumber(ph)) {
		phname = ph->string;
		index = ph->valuedouble;
	} else {
		return ZE_MALFORMED;
	}
	/* ev->string is the pallet; its value is the pallet's event enum. */
	inner = ev;
	if (cJSON_IsString(inner)) {
		evname = inner->valuestring;
		data = cJSON_CreateNull();
	} else if ((inner = chain_only_member(ev))) {
		evname = inner->string;
		data = cJSON_Duplicate(inner, 1);
	} else {
		return ZE_MALFORMED;
	}
	o = cJSON_CreateObject();
	if (!o || !data || !cJSON_AddNumberToObject(o, "index", index) ||
	    !cJSON_AddStringToObject(o, "phase", phname) ||
	    !cJSON_AddStringToObject(o, "pallet", ev->string) ||
	    !cJSON_AddStringToObject(o, "event", evname)) {
		cJSON_Delete(o);
		cJSON_Delete(data);
		return -ENOMEM;
	}
	cJSON_AddItemToObject(o, "data", data);
	cJSON_AddItemToArray(arr, o);
	return 0;
}

/* The raw System.Events of block at and their type: 0, ZE_ABSENT (a block
 * without events stores nothing), or an error. *raw is heap, caller frees. */
static int events_raw(struct chain_client *c, const struct chain_runtime *rt,
		      const uint8_t at[32], uint32_t *type, uint8_t **raw, size_t *n)
{
	const struct meta_pallet *p = meta_pallet(rt->meta, "System");
	const struct meta_storage *s = p ? meta_storage(p, "Events") : NULL;
	if (!s)
		return ZE_UNSUPPORTED;
	*type = s->value_type;
	return chain_storage_raw(c, rt, "System", "Events", 0, NULL, NULL, at, raw, n);
}

/* No stored events: the storage default, an empty list. */
static int empty_events(cJSON **out)
{
	*out = cJSON_CreateArray();
	return *out ? 0 : -ENOMEM;
}

/* Every record of raw System.Events of the given type, flattened. */
static int events_all(const struct chain_runtime *rt, uint32_t type, const uint8_t *raw,
		      size_t n, cJSON **out)
{
	cJSON *recs = NULL, *arr = NULL;
	const cJSON *rec;
	int ret = meta_to_json_buf(rt->meta, type, raw, n, &recs);

	if (ret) {
		log_err("chain", "System.Events do not decode as runtime %u's types: %s",
			rt->spec_version, zerr_str(ret));
		return ret;
	}
	arr = cJSON_CreateArray();
	if (!arr || !cJSON_IsArray(recs)) {
		ret = arr ? ZE_MALFORMED : -ENOMEM;
		goto fail;
	}
	cJSON_ArrayForEach(rec, recs) {
		ret = chain_flatten_record(rec, arr);
		if (ret)
			goto fail;
	}
	cJSON_Delete(recs);
	*out = arr;
	return 0;
fail:
	cJSON_Delete(recs);
	cJSON_Delete(arr);
	return ret;
}

int chain_events(struct chain_client *c, const struct chain_runtime *rt, const uint8_t at[32],
		 cJSON **out)
{
	uint32_t type;
	uint8_t *raw = NULL;
	size_t n = 0;
	int ret;

	*out = NULL;
	if ((ret = events_raw(c, rt, at, &type, &raw, &n)))
		return ret == ZE_ABSENT ? empty_events(out) : ret;
	ret = events_all(rt, type, raw, n, out);
	free(raw);
	return ret;
}

static int chain_wanted(const char *name, const char *const *pallets, size_t np)
{
	for (size_t i = 0; i < np; i++)
		if (strcmp(pallets[i], name) == 0)
			return 1;
	return 0;
}

/*
 * Vec<EventRecord> keeping only the wanted pallets' records: each record's
 * fields before "event" are walked over, the event's first byte (its
 * pallet's variant in RuntimeEvent) decides, and only a wanted record is
 * decoded to JSON. ZE_UNSUPPORTED when the record has no "event" field.
 */
static int chain_events_filter(const struct meta *m, uint32_t vec_type, const uint8_t *raw,
			       size_t n, const char *const *pallets, size_t np, cJSON *arr)
{
	const struct meta_type *vt = meta_type(m, vec_type), *rt, *et;
	struct scale_rd r;
	size_t count, ei = SIZE_MAX;
	int ret;

	if (!vt || vt->kind != META_SEQUENCE || !(rt = meta_type(m, vt->elem)) ||
	    rt->kind != META_COMPOSITE)
		return ZE_UNSUPPORTED;
	for (size_t i = 0; i < rt->nfields; i++)
		if (rt->fields[i].name && strcmp(rt->fields[i].name, "event") == 0)
			ei = i;
	if (ei == SIZE_MAX || !(et = meta_type(m, rt->fields[ei].type)) ||
	    et->kind != META_VARIANT)
		return ZE_UNSUPPORTED;
	scale_rd_init(&r, raw, n);
	if ((ret = scale_get_len(&r, META_MAX_NODES, 1, &count)))
		return ret;
	for (size_t k = 0; k < count; k++) {
		size_t start = r.off;
		for (size_t i = 0; i < ei; i++)
			if ((ret = meta_skip(m, rt->fields[i].type, &r)))
				return ret;
		if (!scale_rd_left(&r))
			return ZE_MALFORMED;
		const struct meta_variant *v = meta_variant_by_index(et, r.p[r.off]);
		if (v && chain_wanted(v->name, pallets, np)) {
			cJSON *rec;
			r.off = start;
			if ((ret = meta_to_json(m, vt->elem, &r, &rec)))
				return ret;
			ret = chain_flatten_record(rec, arr);
			cJSON_Delete(rec);
			if (ret)
				return ret;
			continue;
		}
		for (size_t i = ei; i < rt->nfields; i++)
			if ((ret = meta_skip(m, rt->fields[i].type, &r)))
				return ret;
	}
	return scale_rd_left(&r) ? ZE_MALFORMED : 0;
}

int chain_events_decode(const struct chain_runtime *rt, const uint8_t *raw, size_t n,
			const char *const *pallets, size_t npallets, cJSON **out)
{
	const struct meta_pallet *p = meta_pallet(rt->meta, "System");
	const struct meta_storage *s = p ? meta_storage(p, "Events") : NULL;
	cJSON *arr;
	int ret;

	*out = NULL;
	if (!s)
		return ZE_UNSUPPORTED;
	if (!raw)
		return empty_events(out);
	arr = cJSON_CreateArray();
	ret = arr ? chain_events_filter(rt->meta, s->value_type, raw, n, pallets, npallets, arr)
		  : -ENOMEM;
	if (ret == ZE_UNSUPPORTED) {
		/* An unusual record shape: decode everything, keep the wanted. */
		cJSON *all = NULL, *e, *next;
		cJSON_Delete(arr);
		if ((ret = events_all(rt, s->value_type, raw, n, &all)))
			return ret;
		for (e = all->child; e; e = next) {
			next = e->next;
			const cJSON *pl = cJSON_GetObjectItemCaseSensitive(e, "pallet");
			if (!cJSON_IsString(pl) || !chain_wanted(pl->valuestring, pallets, npallets))
				cJSON_Delete(cJSON_DetachItemViaPointer(all, e));
		}
		*out = all;
		return 0;
	}
	if (ret) {
		if (ret != -ENOMEM)
			log_err("chain", "System.Events do not decode as runtime %u's types: %s",
				rt->spec_version, zerr_str(ret));
		cJSON_Delete(arr);
		return ret;
	}
	*out = arr;
	return 0;
}

int chain_events_of_pallets(struct chain_client *c, const struct chain_runtime *rt,
			    const uint8_t at[32], const char *const *pallets, size_t npallets,
			    cJSON **out)
{
	uint32_t type;
	uint8_t *raw = NULL;
	size_t n = 0;
	int ret;

	*out = NULL;
	if ((ret = events_raw(c, rt, at, &type, &raw, &n)))
		return ret == ZE_ABSENT ? empty_events(out) : ret;
	ret = chain_events_decode(rt, raw, n, pallets, npallets, out);
	free(raw);
	return ret;
}

const cJSON *chain_event_find(const cJSON *events, const char *pallet, const char *name)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, events) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "pallet");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "event");
		if (cJSON_IsString(p) && cJSON_IsString(n) && strcmp(p->valuestring, pallet) == 0 &&
		    strcmp(n->valuestring, name) == 0)
			return e;
	}
	return NULL;
}

/* The first byte of a module error: a number in old runtimes, [u8; 4] in newer. */
static int chain_module_error_byte(const cJSON *v, uint8_t *b)
{
	uint64_t x;
	uint8_t four[4];

	if (cJSON_IsString(v) && hex_decode_fixed(v->valuestring, four, 4) == 0) {
		*b = four[0];
		return 0;
	}
	if (meta_json_u64(v, &x) == 0 && x <= 255) {
		*b = (uint8_t)x;
		return 0;
	}
	return ZE_MALFORMED;
}

static int chain_module_error_name(const struct meta *m, const cJSON *mod, char *out,
				   size_t outsz)
{
	uint64_t idx;
	uint8_t err;
	const struct meta_pallet *p;
	const struct meta_variant *v = NULL;

	if (meta_json_u64(cJSON_GetObjectItemCaseSensitive(mod, "index"), &idx) < 0 || idx > 255 ||
	    chain_module_error_byte(cJSON_GetObjectItemCaseSensitive(mod, "error"), &err) < 0)
		return ZE_MALFORMED;
	p = meta_pallet_by_index(m, (uint8_t)idx);
	if (p && p->has_errors)
		v = meta_variant_by_index(meta_type(m, p->errors_type), err);
	if (v)
		snprintf(out, outsz, "%s.%s", p->name, v->name);
	else
		snprintf(out, outsz, "Module(%u).Error(%u)", (unsigned)idx, (unsigned)err);
	return 0;
}

int chain_dispatch_error_name(const struct meta *m, const cJSON *err, char *out, size_t outsz)
{
	const cJSON *k;

	if (outsz == 0)
		return -EINVAL;
	out[0] = '\0';
	if (cJSON_IsString(err)) {
		snprintf(out, outsz, "%s", err->valuestring);
		return 0;
	}
	k = chain_only_member(err);
	if (!k)
		return ZE_MALFORMED;
	if (strcmp(k->string, "Module") == 0)
		return chain_module_error_name(m, k, out, outsz);
	const cJSON *inner = chain_only_member(k);
	if (cJSON_IsString(k))
		snprintf(out, outsz, "%s.%s", k->string, k->valuestring);
	else if (inner)
		snprintf(out, outsz, "%s.%s", k->string, inner->string);
	else
		snprintf(out, outsz, "%s", k->string);
	return 0;
}
